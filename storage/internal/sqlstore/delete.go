package sqlstore

import (
	"context"
	"fmt"
)

// The conditional deletes are compare-and-swaps whose statement is a
// DELETE ... WHERE key AND version = ?: a deleted row is success; none is
// told apart by the primary-key read of [Store.cas] (storage.ErrNotFound,
// or storage.ErrConflict at another version). A DELETE that got no answer
// is storage.ErrAmbiguous, as any write's.

// deleteSQL returns the conditional DELETE of table keyed by keyCols and
// the read-back of its version.
func (s *Store) deleteSQL(table, where string) (del, version string) {
	return s.d.Bind("DELETE FROM " + table + " WHERE " + where + " AND version = ?"),
		s.d.Bind("SELECT version FROM " + table + " WHERE " + where)
}

// DeleteBatch implements [storage.Driver].
func (s *Store) DeleteBatch(ctx context.Context, queue, id string, expectedVersion int64) error {
	del, version := s.deleteSQL(s.t.Batches, "queue = ? AND id = ?")
	key := s.keys(queue, id)
	return s.cas(ctx, fmt.Sprintf("delete batch %q/%q", queue, id), del, append(key, expectedVersion), version, key, expectedVersion, nil)
}

// DeleteApply implements [storage.Driver].
func (s *Store) DeleteApply(ctx context.Context, id string, expectedVersion int64) error {
	del, version := s.deleteSQL(s.t.Applies, "id = ?")
	key := s.keys(id)
	return s.cas(ctx, fmt.Sprintf("delete apply %q", id), del, append(key, expectedVersion), version, key, expectedVersion, nil)
}

// DeleteOperation implements [storage.Driver].
func (s *Store) DeleteOperation(ctx context.Context, applyID, id string, expectedVersion int64) error {
	del, version := s.deleteSQL(s.t.Operations, "apply_id = ? AND id = ?")
	key := s.keys(applyID, id)
	return s.cas(ctx, fmt.Sprintf("delete operation %q/%q", applyID, id), del, append(key, expectedVersion), version, key, expectedVersion, nil)
}
