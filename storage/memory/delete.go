package memory

import (
	"context"
	"fmt"

	"github.com/statefold/statefold/storage"
)

// DeleteBatch implements [storage.Driver].
func (s *driver) DeleteBatch(ctx context.Context, queue, id string, expectedVersion int64) error {
	return writeErr(ctx, s, func() error {
		cur, ok := s.batch(queue, id)
		what := func() string { return fmt.Sprintf("delete batch %q/%q", queue, id) }
		if err := casCheck(what, ok, cur.Version, expectedVersion); err != nil {
			return err
		}
		c := s.cells[queue][id]
		c.batch, c.ok = storage.Batch{}, false
		s.release(queue, id, c)
		return nil
	})
}

// DeleteApply implements [storage.Driver].
func (s *driver) DeleteApply(ctx context.Context, id string, expectedVersion int64) error {
	return writeErr(ctx, s, func() error {
		cur, ok := s.applies[id]
		if err := casCheck(func() string { return fmt.Sprintf("delete apply %q", id) }, ok, cur.Version, expectedVersion); err != nil {
			return err
		}
		delete(s.applies, id)
		return nil
	})
}

// DeleteOperation implements [storage.Driver].
func (s *driver) DeleteOperation(ctx context.Context, applyID, id string, expectedVersion int64) error {
	return writeErr(ctx, s, func() error {
		ops := s.operations[applyID]
		cur, ok := ops[id]
		what := func() string { return fmt.Sprintf("delete operation %q/%q", applyID, id) }
		if err := casCheck(what, ok, cur.Version, expectedVersion); err != nil {
			return err
		}
		delete(ops, id)
		if len(ops) == 0 {
			delete(s.operations, applyID)
		}
		return nil
	})
}
