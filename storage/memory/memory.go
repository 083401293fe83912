package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/statefold/statefold/storage"
)

type bucketKey struct{ queue, state string }

type opKey struct{ applyID, id string }

// Store is an in-memory [storage.Store]. The zero value is not usable; call
// [New]. Its methods are those of [storage.Checked] around the maps: every
// input is checked before it is stored.
type Store struct{ checkedStore }

// checkedStore is the portable layer [storage.Checked] puts around the
// driver: its methods are Store's.
type checkedStore = storage.Store

var _ storage.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	return &Store{storage.Checked(&driver{
		cells:      make(map[string]map[string]*cell),
		members:    make(map[bucketKey]*bucket),
		applies:    make(map[string]storage.Apply),
		operations: make(map[string]map[string]storage.Operation),
	})}
}

// driver holds the rows: a [storage.Driver] whose input is checked and
// normalized.
type driver struct {
	mu         sync.RWMutex
	cells      map[string]map[string]*cell // queue -> batch id -> batch and rows
	members    map[bucketKey]*bucket       // (queue, state) -> rows
	applies    map[string]storage.Apply
	operations map[string]map[string]storage.Operation // applyID -> id -> op
}

func copyBatch(b storage.Batch) storage.Batch {
	b.Payload = storage.ClonePayload(b.Payload)
	return b
}

func copyApply(a storage.Apply) storage.Apply {
	a.Payload = storage.ClonePayload(a.Payload)
	return a
}

func copyOp(op storage.Operation) storage.Operation {
	op.Payload = storage.ClonePayload(op.Payload)
	return op
}

// locked calls f holding l, after checking ctx.
func locked[T any](ctx context.Context, l sync.Locker, f func() (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	l.Lock()
	defer l.Unlock()
	return f()
}

// read calls f under the read lock, after checking ctx.
func read[T any](ctx context.Context, s *driver, f func() (T, error)) (T, error) {
	return locked(ctx, s.mu.RLocker(), f)
}

// write calls f under the write lock, after checking ctx.
func write[T any](ctx context.Context, s *driver, f func() (T, error)) (T, error) {
	return locked(ctx, &s.mu, f)
}

// writeErr is write for a call that returns only an error.
func writeErr(ctx context.Context, s *driver, f func() error) error {
	_, err := write(ctx, s, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

// casCheck is the answer of a conditional write (what, the call and its
// row, formatted only on failure) of a row that is present (ok) at version
// stored: nil when it may go on.
func casCheck(what func() string, ok bool, stored, expected int64) error {
	switch {
	case !ok:
		return fmt.Errorf("memory: %s: %w", what(), storage.ErrNotFound)
	case stored != expected:
		return fmt.Errorf("memory: %s: stored version %d, expected %d: %w", what(), stored, expected, storage.ErrConflict)
	}
	return nil
}

// CreateBatch implements [storage.Driver].
func (s *driver) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	return write(ctx, s, func() (storage.Batch, error) {
		if _, ok := s.batch(b.Queue, b.ID); ok {
			return storage.Batch{}, fmt.Errorf("memory: create batch %q/%q: %w", b.Queue, b.ID, storage.ErrAlreadyExists)
		}
		b.Version = 1
		s.putBatch(b)
		return copyBatch(b), nil
	})
}

// get reads one row with look under the read lock, after checking ctx:
// a copy of it (clone), or missing's error, which matches
// storage.ErrNotFound, when look finds none.
func get[T any](ctx context.Context, s *driver, clone func(T) T, look func() (T, bool), missing func() error) (T, error) {
	return read(ctx, s, func() (T, error) {
		v, ok := look()
		if !ok {
			var zero T
			return zero, missing()
		}
		return clone(v), nil
	})
}

// GetBatch implements [storage.Driver].
func (s *driver) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	return get(ctx, s, copyBatch,
		func() (storage.Batch, bool) { return s.batch(queue, id) },
		func() error { return fmt.Errorf("memory: get batch %q/%q: %w", queue, id, storage.ErrNotFound) })
}

// GetBatches implements [storage.Driver].
func (s *driver) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	return read(ctx, s, func() ([]storage.Batch, error) {
		out := make([]storage.Batch, 0, len(ids))
		for _, id := range ids {
			if b, ok := s.batch(queue, id); ok {
				out = append(out, copyBatch(b))
			}
		}
		return out, nil
	})
}

// UpdateBatch implements [storage.Driver].
func (s *driver) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64, expectedState string) (storage.Batch, error) {
	return write(ctx, s, func() (storage.Batch, error) {
		cur, ok := s.batch(b.Queue, b.ID)
		what := func() string { return fmt.Sprintf("update batch %q/%q", b.Queue, b.ID) }
		if err := casCheck(what, ok, cur.Version, expectedVersion); err != nil {
			return storage.Batch{}, err
		}
		if cur.State != expectedState {
			return storage.Batch{}, fmt.Errorf("memory: %s: stored state %q, expected %q: %w", what(), cur.State, expectedState, storage.ErrConflict)
		}
		b.Version = expectedVersion + 1
		s.putBatch(b)
		return copyBatch(b), nil
	})
}

// AddMember implements [storage.Driver].
func (s *driver) AddMember(ctx context.Context, m storage.Member) error {
	return writeErr(ctx, s, func() error {
		if bk := s.members[bucketKey{m.Queue, m.State}]; bk != nil {
			if i, ok := bk.at[m.BatchID]; ok && m.Version < bk.rows[i].m.Version {
				return fmt.Errorf("memory: add member %q/%q/%q: stored version %d is above %d: %w",
					m.Queue, m.State, m.BatchID, bk.rows[i].m.Version, m.Version, storage.ErrConflict)
			}
		}
		s.addRow(m)
		return nil
	})
}

// RemoveMember implements [storage.Driver].
func (s *driver) RemoveMember(ctx context.Context, queue, state, batchID string, maxVersion int64) error {
	return writeErr(ctx, s, func() error {
		k := bucketKey{queue, state}
		if bk := s.members[k]; bk != nil {
			if i, ok := bk.at[batchID]; ok && bk.rows[i].m.Version <= maxVersion {
				s.removeRow(k, bk, batchID)
			}
		}
		return nil
	})
}

// ListMembers implements [storage.Driver].
func (s *driver) ListMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	return read(ctx, s, func() ([]storage.Member, error) {
		bk := s.members[bucketKey{queue, state}]
		out := make([]storage.Member, bk.len())
		for i := range out {
			out[i] = bk.rows[i].m
		}
		return out, nil
	})
}

// CreateApply implements [storage.Driver].
func (s *driver) CreateApply(ctx context.Context, a storage.Apply) (storage.Apply, error) {
	return write(ctx, s, func() (storage.Apply, error) {
		if _, ok := s.applies[a.ID]; ok {
			return storage.Apply{}, fmt.Errorf("memory: create apply %q: %w", a.ID, storage.ErrAlreadyExists)
		}
		a.Version = 1
		s.applies[a.ID] = a
		return copyApply(a), nil
	})
}

// GetApply implements [storage.Driver].
func (s *driver) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	return get(ctx, s, copyApply,
		func() (storage.Apply, bool) { a, ok := s.applies[id]; return a, ok },
		func() error { return fmt.Errorf("memory: get apply %q: %w", id, storage.ErrNotFound) })
}

// UpdateApply implements [storage.Driver].
func (s *driver) UpdateApply(ctx context.Context, a storage.Apply, expectedVersion int64) (storage.Apply, error) {
	return write(ctx, s, func() (storage.Apply, error) {
		cur, ok := s.applies[a.ID]
		if err := casCheck(func() string { return fmt.Sprintf("update apply %q", a.ID) }, ok, cur.Version, expectedVersion); err != nil {
			return storage.Apply{}, err
		}
		a.Version = expectedVersion + 1
		s.applies[a.ID] = a
		return copyApply(a), nil
	})
}

// CreateOperation implements [storage.Driver].
func (s *driver) CreateOperation(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	return write(ctx, s, func() (storage.Operation, error) {
		ops := s.operations[op.ApplyID]
		if _, ok := ops[op.ID]; ok {
			return storage.Operation{}, fmt.Errorf("memory: create operation %q/%q: %w", op.ApplyID, op.ID, storage.ErrAlreadyExists)
		}
		if ops == nil {
			ops = make(map[string]storage.Operation)
			s.operations[op.ApplyID] = ops
		}
		op.Version = 1
		ops[op.ID] = op
		return copyOp(op), nil
	})
}

// GetOperation implements [storage.Driver].
func (s *driver) GetOperation(ctx context.Context, applyID, id string) (storage.Operation, error) {
	return get(ctx, s, copyOp,
		func() (storage.Operation, bool) { op, ok := s.operations[applyID][id]; return op, ok },
		func() error { return fmt.Errorf("memory: get operation %q/%q: %w", applyID, id, storage.ErrNotFound) })
}

// ListOperations implements [storage.Driver].
func (s *driver) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	return read(ctx, s, func() ([]storage.Operation, error) {
		ops := s.operations[applyID]
		out := make([]storage.Operation, 0, len(ops))
		for _, op := range ops {
			out = append(out, copyOp(op))
		}
		return out, nil
	})
}

// UpdateOperation implements [storage.Driver].
func (s *driver) UpdateOperation(ctx context.Context, op storage.Operation, expectedVersion int64) (storage.Operation, error) {
	return write(ctx, s, func() (storage.Operation, error) {
		cur, ok := s.operations[op.ApplyID][op.ID]
		what := func() string { return fmt.Sprintf("update operation %q/%q", op.ApplyID, op.ID) }
		if err := casCheck(what, ok, cur.Version, expectedVersion); err != nil {
			return storage.Operation{}, err
		}
		op.Version = expectedVersion + 1
		s.operations[op.ApplyID][op.ID] = op
		return copyOp(op), nil
	})
}
