package sqlstore

import (
	"context"
	"fmt"

	"github.com/statefold/statefold/storage"
)

// MoveDialect is what a [Dialect] adds to answer [storage.Mover]: one
// round trip that upserts a batch's index row and, only if it wrote the
// row, compare-and-swaps the batch (PostgreSQL: one statement; MySQL: a
// call of the schema's stored procedure).
type MoveDialect interface {
	// Move runs the dialect's round trip over t for the row m and the
	// batch b (expected at version and state) and reports whether it
	// wrote the row and whether it moved the batch. One that wrote
	// nothing (a newer row, or a procedure the connection cannot call)
	// reports false, false: the store runs the two statements. A dialect
	// without it gets the two statements always.
	Move(ctx context.Context, t Tables, m storage.Member, b storage.Batch, version int64, state string) (row, moved bool, err error)
}

// MoveBatch implements [storage.Mover] with the dialect's round trip.
// When it did not move the batch the store asks the statements of
// AddMember and UpdateBatch for the answer: after a written row,
// UpdateBatch (a lost compare-and-swap is told from a missing batch, as
// UpdateBatch tells it); with nothing written, AddMember and then
// UpdateBatch. So the answers are theirs, and the extra round trips come
// only when the move did not land.
func (s *Store) MoveBatch(ctx context.Context, m storage.Member, b storage.Batch, version int64, state string) (storage.Batch, error) {
	md, ok := s.d.(MoveDialect)
	if !ok {
		if err := s.AddMember(ctx, m); err != nil {
			return storage.Batch{}, err
		}
		return s.UpdateBatch(ctx, b, version, state)
	}
	what := fmt.Sprintf("move batch %q/%q to %q", b.Queue, b.ID, b.State)
	if err := notSent(ctx); err != nil {
		return storage.Batch{}, CallErr(ctx, s.d, what, true, err)
	}
	row, moved, err := md.Move(ctx, s.t, m, b, version, state)
	switch {
	case err != nil:
		return storage.Batch{}, CallErr(ctx, s.d, what, true, err)
	case moved:
		b.Version = version + 1
		return b, nil
	case !row:
		if err := s.AddMember(ctx, m); err != nil {
			return storage.Batch{}, err
		}
	}
	return s.UpdateBatch(ctx, b, version, state)
}
