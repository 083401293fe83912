package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/statefold/statefold/storage"
)

// text scans a key, label or message column (VARBINARY, BLOB, BYTEA)
// into a string.
type text struct{ s *string }

// Scan implements sql.Scanner.
func (t text) Scan(src any) error {
	s, err := scanAs[string](src, "a string")
	if err == nil {
		*t.s = s
	}
	return err
}

// scanAs converts src, the value of a text or binary column, to T: the
// zero T when it is NULL, an error naming into when it is neither bytes
// nor a string.
func scanAs[T ~string | ~[]byte](src any, into string) (T, error) {
	var zero T
	switch v := src.(type) {
	case nil:
		return zero, nil
	case []byte:
		return T(v), nil
	case string:
		return T(v), nil
	}
	return zero, fmt.Errorf("cannot scan %T into %s", src, into)
}

// strs returns scan destinations for string fields.
func strs(ps ...*string) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = text{p}
	}
	return out
}

// times returns scan destinations for time fields.
func (s *Store) times(ps ...*time.Time) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = timeDest{s.d, p}
	}
	return out
}

// keys encodes string arguments.
func (s *Store) keys(vs ...string) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = s.d.KeyArg(v)
	}
	return out
}

// ScanBatch scans a row of the batch columns [Queries] select.
func (s *Store) ScanBatch(r Row) (storage.Batch, error) {
	var b storage.Batch
	dest := append(strs(&b.Queue, &b.ID, &b.State), &b.Version, &b.Payload)
	err := r.Scan(append(dest, s.times(&b.CreatedAt, &b.UpdatedAt)...)...)
	b.Payload = storage.ClonePayload(b.Payload)
	return b, err
}

func (s *Store) batchArgs(b storage.Batch) []any {
	return []any{s.d.KeyArg(b.State), PayloadArg(b.Payload), s.d.TimeArg(b.CreatedAt), s.d.TimeArg(b.UpdatedAt)}
}

// CreateBatch implements [storage.Driver].
func (s *Store) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	b.Version = 1
	return create(ctx, s, fmt.Sprintf("create batch %q/%q", b.Queue, b.ID), s.Q.InsertBatch, append(s.keys(b.Queue, b.ID), s.batchArgs(b)...), b)
}

// create runs the insert q with args and returns row, the row as stored,
// or the insert's error (what names the call).
func create[T any](ctx context.Context, s *Store, what, q string, args []any, row T) (T, error) {
	if _, err := s.exec(ctx, q, args...); err != nil {
		var zero T
		return zero, s.insertErr(ctx, what, err)
	}
	return row, nil
}

// GetBatch implements [storage.Driver].
func (s *Store) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	return get(ctx, s, fmt.Sprintf("get batch %q/%q", queue, id), s.Q.GetBatch, s.ScanBatch, s.keys(queue, id)...)
}

// UpdateBatch implements [storage.Driver].
func (s *Store) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64, expectedState string) (storage.Batch, error) {
	key := s.keys(b.Queue, b.ID)
	args := append(append(s.batchArgs(b), key...), expectedVersion, s.d.KeyArg(expectedState))
	if err := s.cas(ctx, fmt.Sprintf("update batch %q/%q", b.Queue, b.ID), s.Q.UpdateBatch, args,
		s.Q.BatchVersion, key, expectedVersion, &expectedState); err != nil {
		return storage.Batch{}, err
	}
	b.Version = expectedVersion + 1
	return b, nil
}

// AddMember implements [storage.Driver] with the dialect's conditional
// upsert: a newer stored row is storage.ErrConflict.
func (s *Store) AddMember(ctx context.Context, m storage.Member) error {
	what := fmt.Sprintf("add member %q/%q/%q", m.Queue, m.State, m.BatchID)
	if err := notSent(ctx); err != nil {
		return CallErr(ctx, s.d, what, true, err)
	}
	newer, stored, err := s.d.AddMember(ctx, s.Q.AddMember, append(s.keys(m.Queue, m.State, m.BatchID), m.Version, s.d.TimeArg(m.AddedAt))...)
	switch {
	case err != nil:
		return CallErr(ctx, s.d, what, true, err)
	case newer && stored > 0:
		return fmt.Errorf("%s: %s: stored version %d is above %d: %w", s.d.Name(), what, stored, m.Version, storage.ErrConflict)
	case newer:
		return fmt.Errorf("%s: %s: a row above version %d is stored: %w", s.d.Name(), what, m.Version, storage.ErrConflict)
	}
	return nil
}

// RemoveMember implements [storage.Driver] with one
// DELETE ... WHERE key AND version <= maxVersion.
func (s *Store) RemoveMember(ctx context.Context, queue, state, batchID string, maxVersion int64) error {
	if _, err := s.exec(ctx, s.Q.RemoveMember, append(s.keys(queue, state, batchID), maxVersion)...); err != nil {
		return CallErr(ctx, s.d, fmt.Sprintf("remove member %q/%q/%q", queue, state, batchID), true, err)
	}
	return nil
}

// ListMembers implements [storage.Driver] as a prefix read of the members
// primary key.
func (s *Store) ListMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	scan := func(r Row) (storage.Member, error) {
		m := storage.Member{Queue: queue, State: state}
		err := r.Scan(text{&m.BatchID}, &m.Version, timeDest{s.d, &m.AddedAt})
		return m, err
	}
	out, err := list(ctx, s, s.Q.ListMembers, scan, s.keys(queue, state)...)
	if err != nil {
		return nil, CallErr(ctx, s.d, fmt.Sprintf("list members %q/%q", queue, state), false, err)
	}
	return out, nil
}

func (s *Store) scanApply(r Row) (storage.Apply, error) {
	var a storage.Apply
	dest := append(strs(&a.ID, &a.State, &a.ErrorMessage), &a.StopRequested, &a.PauseReleased)
	dest = append(append(dest, s.times(&a.StartedAt, &a.CompletedAt)...), &a.Payload, &a.Version)
	err := r.Scan(append(dest, s.times(&a.CreatedAt, &a.UpdatedAt)...)...)
	a.Payload = storage.ClonePayload(a.Payload)
	return a, err
}

// applyArgs are the non-key columns of an apply, in the statements' order.
func (s *Store) applyArgs(a storage.Apply) []any {
	return []any{s.d.KeyArg(a.State), s.d.KeyArg(a.ErrorMessage), a.StopRequested, a.PauseReleased,
		s.d.TimeArg(a.StartedAt), s.d.TimeArg(a.CompletedAt), PayloadArg(a.Payload),
		s.d.TimeArg(a.CreatedAt), s.d.TimeArg(a.UpdatedAt)}
}

// CreateApply implements [storage.Driver].
func (s *Store) CreateApply(ctx context.Context, a storage.Apply) (storage.Apply, error) {
	a.Version = 1
	return create(ctx, s, fmt.Sprintf("create apply %q", a.ID), s.Q.InsertApply, append(s.keys(a.ID), s.applyArgs(a)...), a)
}

// GetApply implements [storage.Driver].
func (s *Store) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	return get(ctx, s, fmt.Sprintf("get apply %q", id), s.Q.GetApply, s.scanApply, s.keys(id)...)
}

// UpdateApply implements [storage.Driver].
func (s *Store) UpdateApply(ctx context.Context, a storage.Apply, expectedVersion int64) (storage.Apply, error) {
	key := s.keys(a.ID)
	if err := s.cas(ctx, fmt.Sprintf("update apply %q", a.ID), s.Q.UpdateApply,
		append(append(s.applyArgs(a), key...), expectedVersion), s.Q.ApplyVersion, key, expectedVersion, nil); err != nil {
		return storage.Apply{}, err
	}
	a.Version = expectedVersion + 1
	return a, nil
}

func (s *Store) scanOperation(r Row) (storage.Operation, error) {
	var op storage.Operation
	dest := append(strs(&op.ApplyID, &op.ID), &op.Seq)
	dest = append(append(dest, strs(&op.Deployment, &op.Group)...), &op.Finalizer)
	dest = append(dest, strs(&op.State, &op.OnFailure, &op.ErrorMessage)...)
	dest = append(append(dest, s.times(&op.StartedAt, &op.CompletedAt)...), &op.Payload, &op.Version)
	dest = append(append(dest, s.times(&op.CreatedAt, &op.UpdatedAt)...), &op.Projected, text{&op.Owner}, &op.OwnerToken)
	err := r.Scan(append(append(dest, s.times(&op.OwnerUntil, &op.ReleasedAt)...), &op.ProjectedVersion)...)
	op.Payload = storage.ClonePayload(op.Payload)
	return op, err
}

// operationArgs are the non-key columns of an operation, in the
// statements' order.
func (s *Store) operationArgs(op storage.Operation) []any {
	return []any{op.Seq, s.d.KeyArg(op.Deployment), s.d.KeyArg(op.Group), op.Finalizer, s.d.KeyArg(op.State),
		s.d.KeyArg(op.OnFailure), s.d.KeyArg(op.ErrorMessage), s.d.TimeArg(op.StartedAt), s.d.TimeArg(op.CompletedAt),
		PayloadArg(op.Payload), s.d.TimeArg(op.CreatedAt), s.d.TimeArg(op.UpdatedAt), op.Projected,
		s.d.KeyArg(op.Owner), op.OwnerToken, s.d.TimeArg(op.OwnerUntil), s.d.TimeArg(op.ReleasedAt), op.ProjectedVersion}
}

// CreateOperation implements [storage.Driver].
func (s *Store) CreateOperation(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	op.Version = 1
	return create(ctx, s, fmt.Sprintf("create operation %q/%q", op.ApplyID, op.ID), s.Q.InsertOperation, append(s.keys(op.ApplyID, op.ID), s.operationArgs(op)...), op)
}

// GetOperation implements [storage.Driver].
func (s *Store) GetOperation(ctx context.Context, applyID, id string) (storage.Operation, error) {
	return get(ctx, s, fmt.Sprintf("get operation %q/%q", applyID, id), s.Q.GetOperation, s.scanOperation, s.keys(applyID, id)...)
}

// ListOperations implements [storage.Driver] as a prefix read of the
// operations primary key.
func (s *Store) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	out, err := list(ctx, s, s.Q.ListOperations, s.scanOperation, s.keys(applyID)...)
	if err != nil {
		return nil, CallErr(ctx, s.d, fmt.Sprintf("list operations %q", applyID), false, err)
	}
	return out, nil
}

// UpdateOperation implements [storage.Driver].
func (s *Store) UpdateOperation(ctx context.Context, op storage.Operation, expectedVersion int64) (storage.Operation, error) {
	key := s.keys(op.ApplyID, op.ID)
	if err := s.cas(ctx, fmt.Sprintf("update operation %q/%q", op.ApplyID, op.ID), s.Q.UpdateOperation,
		append(append(s.operationArgs(op), key...), expectedVersion), s.Q.OperationVersion, key, expectedVersion, nil); err != nil {
		return storage.Operation{}, err
	}
	op.Version = expectedVersion + 1
	return op, nil
}
