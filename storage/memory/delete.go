package memory

import (
	"context"
	"fmt"

	"github.com/statefold/statefold/storage"
)

// casDelete is the answer of a conditional delete of a row that is
// present (ok) at version stored: nil when it may go.
func casDelete(what string, ok bool, stored, expected int64) error {
	switch {
	case !ok:
		return fmt.Errorf("memory: %s: %w", what, storage.ErrNotFound)
	case stored != expected:
		return fmt.Errorf("memory: %s: stored version %d, expected %d: %w", what, stored, expected, storage.ErrConflict)
	}
	return nil
}

// DeleteBatch implements [storage.Driver].
func (s *driver) DeleteBatch(ctx context.Context, queue, id string, expectedVersion int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.batch(queue, id)
	if err := casDelete(fmt.Sprintf("delete batch %q/%q", queue, id), ok, cur.Version, expectedVersion); err != nil {
		return err
	}
	c := s.cells[queue][id]
	c.batch, c.ok = storage.Batch{}, false
	s.release(queue, id, c)
	return nil
}

// DeleteApply implements [storage.Driver].
func (s *driver) DeleteApply(ctx context.Context, id string, expectedVersion int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.applies[id]
	if err := casDelete(fmt.Sprintf("delete apply %q", id), ok, cur.Version, expectedVersion); err != nil {
		return err
	}
	delete(s.applies, id)
	return nil
}

// DeleteOperation implements [storage.Driver].
func (s *driver) DeleteOperation(ctx context.Context, applyID, id string, expectedVersion int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := s.operations[applyID]
	cur, ok := ops[id]
	if err := casDelete(fmt.Sprintf("delete operation %q/%q", applyID, id), ok, cur.Version, expectedVersion); err != nil {
		return err
	}
	delete(ops, id)
	if len(ops) == 0 {
		delete(s.operations, applyID)
	}
	return nil
}
