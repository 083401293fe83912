package custombackend

import (
	"context"
	"fmt"

	"github.com/statefold/statefold/storage"
)

// remove is the conditional delete: the row must be stored at version
// expected. A missing row is storage.ErrNotFound, another version
// storage.ErrConflict (the row is kept).
func remove[V any](t *table[V], k key, expected int64, version func(V) int64) error {
	cur, ok := t.rows[k]
	switch {
	case !ok:
		return fmt.Errorf("custombackend: delete %q: %w", k, storage.ErrNotFound)
	case version(cur) != expected:
		return fmt.Errorf("custombackend: delete %q: stored version %d, expected %d: %w", k, version(cur), expected, storage.ErrConflict)
	}
	delete(t.rows, k)
	return nil
}

// DeleteBatch implements storage.Driver.
func (s *driver) DeleteBatch(ctx context.Context, queue, id string, expectedVersion int64) error {
	return s.do(ctx, true, "delete batch", func(tx *Tables) error {
		return remove(tx.batches, key{queue, id, ""}, expectedVersion, batchVersion)
	})
}

// DeleteApply implements storage.Driver.
func (s *driver) DeleteApply(ctx context.Context, id string, expectedVersion int64) error {
	return s.do(ctx, true, "delete apply", func(tx *Tables) error {
		return remove(tx.applies, key{id, "", ""}, expectedVersion, applyVersion)
	})
}

// DeleteOperation implements storage.Driver.
func (s *driver) DeleteOperation(ctx context.Context, applyID, id string, expectedVersion int64) error {
	return s.do(ctx, true, "delete operation", func(tx *Tables) error {
		return remove(tx.ops, key{applyID, id, ""}, expectedVersion, opVersion)
	})
}
