package postgres

import (
	"context"

	"github.com/statefold/statefold/storage"
)

var (
	_ storage.Snapshotter = (*Store)(nil)
	_ storage.MemberPager = (*Store)(nil)
)

// ListSnapshot implements [storage.Snapshotter] in one statement (one
// snapshot of the server), its input checked by [storage.Checked].
func (s *Store) ListSnapshot(ctx context.Context, r storage.SnapshotRequest) (storage.Snapshot, error) {
	return s.checkedStore.(storage.Snapshotter).ListSnapshot(ctx, r)
}

// ListMembersPage implements [storage.MemberPager] as one bounded range
// read of the members primary key, its input checked by [storage.Checked].
func (s *Store) ListMembersPage(ctx context.Context, queue, state, after string, limit int) ([]storage.Member, error) {
	return s.checkedStore.(storage.MemberPager).ListMembersPage(ctx, queue, state, after, limit)
}
