package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	now "github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/postgres"

	"statefold-v010/storage"
)

// pgStore is the v0.1.0 store interfaces over today's PostgreSQL store:
// v0.1.0 had no PostgreSQL backend, so its orchestrators reach PostgreSQL
// through this. It writes what a v0.1.0 backend would: the fields v0.1.0
// knows; an operation update keeps the fields it does not know as stored
// (Projected, the owner fields, ReleasedAt), as v0.1.0's MySQL UPDATE
// does; a member older than the stored row is no error, as in v0.1.0.
type pgStore struct{ s *postgres.Store }

var _ storage.Store = pgStore{}

func openPostgres(ctx context.Context, dsn, prefix string) (storage.Store, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, err
	}
	s, err := postgres.New(pool, postgres.WithTablePrefix(prefix))
	if err != nil {
		return nil, err
	}
	return pgStore{s}, nil
}

// old maps today's sentinels to v0.1.0's.
func old(err error) error {
	for _, m := range []struct{ now, old error }{
		{now.ErrNotFound, storage.ErrNotFound},
		{now.ErrAlreadyExists, storage.ErrAlreadyExists},
		{now.ErrConflict, storage.ErrConflict},
		{now.ErrInvalid, storage.ErrInvalid},
	} {
		if errors.Is(err, m.now) {
			return fmt.Errorf("%w: %w", m.old, err)
		}
	}
	return err
}

func batches(bs []now.Batch) []storage.Batch {
	out := make([]storage.Batch, len(bs))
	for i, b := range bs {
		out[i] = storage.Batch(b)
	}
	return out
}

func (p pgStore) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	r, err := p.s.CreateBatch(ctx, now.Batch(b))
	return storage.Batch(r), old(err)
}

func (p pgStore) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	r, err := p.s.GetBatch(ctx, queue, id)
	return storage.Batch(r), old(err)
}

func (p pgStore) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	r, err := p.s.GetBatches(ctx, queue, ids)
	return batches(r), old(err)
}

// UpdateBatch is v0.1.0's compare-and-swap on the version alone: the
// stored state is read and expected.
func (p pgStore) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64) (storage.Batch, error) {
	cur, err := p.s.GetBatch(ctx, b.Queue, b.ID)
	if err != nil {
		return storage.Batch{}, old(err)
	}
	if cur.Version != expectedVersion {
		return storage.Batch{}, fmt.Errorf("%w: version %d, not %d", storage.ErrConflict, cur.Version, expectedVersion)
	}
	r, err := p.s.UpdateBatch(ctx, now.Batch(b), expectedVersion, cur.State)
	return storage.Batch(r), old(err)
}

func (p pgStore) AddMember(ctx context.Context, m storage.Member) error {
	err := p.s.AddMember(ctx, now.Member(m))
	if errors.Is(err, now.ErrConflict) {
		return nil // a newer row is kept, silently, as in v0.1.0
	}
	return old(err)
}

func (p pgStore) RemoveMember(ctx context.Context, queue, state, batchID string, maxVersion int64) error {
	return old(p.s.RemoveMember(ctx, queue, state, batchID, maxVersion))
}

func (p pgStore) ListMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	r, err := p.s.ListMembers(ctx, queue, state)
	out := make([]storage.Member, len(r))
	for i, m := range r {
		out[i] = storage.Member(m)
	}
	return out, old(err)
}

func (p pgStore) CreateApply(ctx context.Context, a storage.Apply) (storage.Apply, error) {
	r, err := p.s.CreateApply(ctx, now.Apply(a))
	return storage.Apply(r), old(err)
}

func (p pgStore) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	r, err := p.s.GetApply(ctx, id)
	return storage.Apply(r), old(err)
}

func (p pgStore) UpdateApply(ctx context.Context, a storage.Apply, expectedVersion int64) (storage.Apply, error) {
	r, err := p.s.UpdateApply(ctx, now.Apply(a), expectedVersion)
	return storage.Apply(r), old(err)
}

func toOld(o now.Operation) storage.Operation {
	return storage.Operation{
		ApplyID: o.ApplyID, ID: o.ID, Seq: o.Seq, Deployment: o.Deployment, Group: o.Group,
		Finalizer: o.Finalizer, State: o.State, OnFailure: o.OnFailure, ErrorMessage: o.ErrorMessage,
		StartedAt: o.StartedAt, CompletedAt: o.CompletedAt, Payload: o.Payload,
		Version: o.Version, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
}

// toNow is o with the fields v0.1.0 does not know taken from keep.
func toNow(o storage.Operation, keep now.Operation) now.Operation {
	keep.ApplyID, keep.ID, keep.Seq, keep.Deployment, keep.Group = o.ApplyID, o.ID, o.Seq, o.Deployment, o.Group
	keep.Finalizer, keep.State, keep.OnFailure, keep.ErrorMessage = o.Finalizer, o.State, o.OnFailure, o.ErrorMessage
	keep.StartedAt, keep.CompletedAt, keep.Payload = o.StartedAt, o.CompletedAt, o.Payload
	keep.Version, keep.CreatedAt, keep.UpdatedAt = o.Version, o.CreatedAt, o.UpdatedAt
	return keep
}

func (p pgStore) CreateOperation(ctx context.Context, o storage.Operation) (storage.Operation, error) {
	r, err := p.s.CreateOperation(ctx, toNow(o, now.Operation{}))
	return toOld(r), old(err)
}

func (p pgStore) GetOperation(ctx context.Context, applyID, id string) (storage.Operation, error) {
	r, err := p.s.GetOperation(ctx, applyID, id)
	return toOld(r), old(err)
}

func (p pgStore) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	r, err := p.s.ListOperations(ctx, applyID)
	out := make([]storage.Operation, len(r))
	for i, o := range r {
		out[i] = toOld(o)
	}
	return out, old(err)
}

func (p pgStore) UpdateOperation(ctx context.Context, o storage.Operation, expectedVersion int64) (storage.Operation, error) {
	cur, err := p.s.GetOperation(ctx, o.ApplyID, o.ID)
	if err != nil {
		return storage.Operation{}, old(err)
	}
	if cur.Version != expectedVersion {
		return storage.Operation{}, fmt.Errorf("%w: version %d, not %d", storage.ErrConflict, cur.Version, expectedVersion)
	}
	r, err := p.s.UpdateOperation(ctx, toNow(o, cur), expectedVersion)
	return toOld(r), old(err)
}
