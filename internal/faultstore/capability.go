package faultstore

import (
	"context"
	"errors"

	"github.com/statefold/statefold/storage"
)

// The optional capabilities of a store (see storage.Snapshotter and
// storage.MemberPager). They are reads, counted and faulted like the
// others, and are not among [Methods]: a store need not offer them.
const (
	// ListSnapshot is storage.Snapshotter.ListSnapshot.
	ListSnapshot Method = "ListSnapshot"
	// ListMembersPage is storage.MemberPager.ListMembersPage.
	ListMembersPage Method = "ListMembersPage"
)

// errUnsupported answers a capability the wrapped store lacks, before any
// count or fault: a caller then uses the methods every store has.
var errUnsupported = errors.Join(errors.New("faultstore: the wrapped store does not offer this capability"), errors.ErrUnsupported)

// ListSnapshot implements [storage.Snapshotter] when the wrapped store
// does, and answers errors.ErrUnsupported otherwise.
func (f *Store) ListSnapshot(ctx context.Context, r storage.SnapshotRequest) (storage.Snapshot, error) {
	s, ok := f.inner.(storage.Snapshotter)
	if !ok {
		return storage.Snapshot{}, errUnsupported
	}
	return call(ctx, f, ListSnapshot, func() (storage.Snapshot, error) { return s.ListSnapshot(ctx, r) })
}

// ListMembersPage implements [storage.MemberPager] when the wrapped store
// does, and answers errors.ErrUnsupported otherwise.
func (f *Store) ListMembersPage(ctx context.Context, queue, state, after string, limit int) ([]storage.Member, error) {
	p, ok := f.inner.(storage.MemberPager)
	if !ok {
		return nil, errUnsupported
	}
	return call(ctx, f, ListMembersPage, func() ([]storage.Member, error) {
		return p.ListMembersPage(ctx, queue, state, after, limit)
	})
}
