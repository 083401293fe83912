package batchstate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/statefold/statefold/storage"
)

// Create stores a new batch in b.State with Version 1, CreatedAt and
// UpdatedAt from the clock. If the state is not terminal, the index row is
// added first; if that fails nothing is created. An id that is taken — a
// stored batch, or the tombstone of a pruned or abandoned one — fails with
// storage.ErrAlreadyExists, even where a row of its history refused the
// new row first; a newer row of an id with no batch is storage.ErrConflict. If the batch write fails
// the error is returned and the row is kept: the write may have landed.
//
// Create either returns an error or its batch is listed: if Reconcile
// finds the row without its batch after the grace period, it writes an
// [Abandoned] tombstone under the id first, so a late CreateBatch fails
// with storage.ErrAlreadyExists instead of storing a batch whose row is
// gone. After an error, read the batch: if it exists in the state asked
// for, the create landed; if it is Abandoned, create under a new id.
func (o *Orchestrator) Create(ctx context.Context, b storage.Batch) (created storage.Batch, err error) {
	ctx, call := o.start(ctx, "Create", b.Queue, b.ID)
	defer func() { endBatch(call, created, err) }()
	if err := ctx.Err(); err != nil {
		return storage.Batch{}, err
	}
	if err := checkCreate(o.m, b); err != nil {
		return storage.Batch{}, err
	}
	p := planCreate(o.m, b, o.now())
	kp, err := planKeys(o.m, o.cfg.indexes, o.cfg.finished, nil, p.batch, 1, p.batch.UpdatedAt)
	if err != nil {
		return storage.Batch{}, err
	}
	if p.row != nil {
		if err := o.members.AddMember(ctx, *p.row); err != nil {
			return storage.Batch{}, o.taken(ctx, b, fmt.Errorf("batchstate: create %q: add member %q: %w", b.ID, b.State, err))
		}
	}
	if err := o.addRows(ctx, kp.before); err != nil {
		return storage.Batch{}, o.taken(ctx, b, fmt.Errorf("batchstate: create %q: %w", b.ID, err))
	}
	created, err = o.batches.CreateBatch(ctx, p.batch)
	if err != nil {
		return storage.Batch{}, fmt.Errorf("batchstate: create %q: %w", b.ID, err)
	}
	return created, nil
}

// taken turns err, an index row of b refused as older than the stored one,
// into storage.ErrAlreadyExists when the batch is stored: the id was used
// before (a live batch, a tombstone of Prune or Reconcile) and a row of
// its history is still there — a Create of that id fails as its
// CreateBatch would. Any other error, or no batch, is err unchanged.
func (o *Orchestrator) taken(ctx context.Context, b storage.Batch, err error) error {
	if !errors.Is(err, storage.ErrConflict) {
		return err
	}
	if _, gerr := o.batches.GetBatch(ctx, b.Queue, b.ID); gerr != nil {
		return err
	}
	// Not a conflict to retry: only ErrAlreadyExists matches.
	return fmt.Errorf("batchstate: create %q: the id is taken (%v): %w", b.ID, errors.Unwrap(err), storage.ErrAlreadyExists)
}

// checkCreate reports why m refuses to create b, if it does.
func checkCreate(m Machine, b storage.Batch) error {
	if err := storage.ValidateBatch(b); err != nil {
		return err
	}
	if b.ID == LeaseID {
		return storage.Invalid("batch.ID", "id %q is reserved", b.ID)
	}
	if !m.Known(b.State) {
		return storage.Invalid("batch.State", "unknown state %q", b.State)
	}
	return nil
}

// createPlan is what Create writes, in order.
type createPlan struct {
	// row is the index row added first; nil for a final state.
	row *storage.Member
	// batch is the batch created then.
	batch storage.Batch
}

// planCreate decides what Create writes for b at now.
func planCreate(m Machine, b storage.Batch, now time.Time) createPlan {
	b.Version, b.CreatedAt, b.UpdatedAt = 0, now, now
	p := createPlan{batch: b}
	if !m.final(b.State) {
		p.row = &storage.Member{Queue: b.Queue, State: b.State, BatchID: b.ID, Version: 1, AddedAt: now}
	}
	return p
}
