package storagetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/explore"
)

func member(queue, state, id string, version int64, at int) storage.Member {
	return storage.Member{Queue: queue, State: state, BatchID: id, Version: version, AddedAt: ts(at)}
}

func runMembership(t *testing.T, newStore func(t *testing.T) storage.Store) {
	explore.Parallel(t, newStore, map[string]func(t *testing.T, ctx context.Context, s storage.Store){
		"Upsert": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			require.NoError(t, s.AddMember(ctx, member(q, "s", "b", 3, 0)))
			ms, err := s.ListMembers(ctx, q, "s")
			require.NoError(t, err)
			require.Equal(t, []storage.Member{member(q, "s", "b", 3, 0)}, ms)

			for _, lower := range []int64{2, 1} {
				err = s.AddMember(ctx, member(q, "s", "b", lower, 9))
				require.ErrorIs(t, err, storage.ErrConflict, "a lower version (%d) is a conflict", lower)
				for _, other := range []error{storage.ErrInvalid, storage.ErrNotFound, storage.ErrAlreadyExists} {
					require.NotErrorIs(t, err, other)
				}
				ms, err = s.ListMembers(ctx, q, "s")
				require.NoError(t, err)
				require.Equal(t, []storage.Member{member(q, "s", "b", 3, 0)}, ms, "a lower version never overwrites")
			}
			require.NoError(t, s.AddMember(ctx, member(q, "t", "b", 1, 0)), "only the same (queue, state, batch id) row conflicts")
			require.NoError(t, s.AddMember(ctx, member(q, "s", "c", 1, 0)))
			require.NoError(t, s.AddMember(ctx, member(UniqueID("q"), "s", "b", 1, 0)))
			require.Equal(t, map[string]int64{"b": 3, "c": 1}, explore.RowsOf(t, ctx, s, q, "s"))
			require.NoError(t, s.RemoveMember(ctx, q, "s", "c", 1))

			require.NoError(t, s.AddMember(ctx, member(q, "s", "b", 3, 0)), "the same row again (a retried add that landed) succeeds")
			require.NoError(t, s.AddMember(ctx, member(q, "s", "b", 3, 5)))
			ms, err = s.ListMembers(ctx, q, "s")
			require.NoError(t, err)
			require.Equal(t, []storage.Member{member(q, "s", "b", 3, 5)}, ms, "an equal version overwrites (AddedAt)")

			require.NoError(t, s.AddMember(ctx, member(q, "s", "b", 7, 6)))
			ms, err = s.ListMembers(ctx, q, "s")
			require.NoError(t, err)
			require.Equal(t, []storage.Member{member(q, "s", "b", 7, 6)}, ms, "a higher version overwrites")
		},
		"ConditionalRemove": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			require.NoError(t, s.AddMember(ctx, member(q, "s", "b", 5, 0)))
			require.NoError(t, s.RemoveMember(ctx, q, "s", "b", 4), "a newer row is success")
			require.Equal(t, map[string]int64{"b": 5}, explore.RowsOf(t, ctx, s, q, "s"), "and untouched")
			require.NoError(t, s.RemoveMember(ctx, q, "s", "b", 5))
			require.Empty(t, explore.RowsOf(t, ctx, s, q, "s"), "maxVersion equal to the row's removes it")
			require.NoError(t, s.RemoveMember(ctx, q, "s", "b", 5), "removing an absent row is success")
			require.NoError(t, s.RemoveMember(ctx, q, "s", "never", 0))

			require.NoError(t, s.AddMember(ctx, member(q, "s", "c", 2, 0)))
			require.NoError(t, s.RemoveMember(ctx, q, "s", "c", 100))
			require.Empty(t, explore.RowsOf(t, ctx, s, q, "s"), "maxVersion above the row's removes it")
		},
		"BucketIsolation": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			require.NoError(t, s.AddMember(ctx, member(q, "a", "x", 1, 0)))
			require.NoError(t, s.AddMember(ctx, member(q, "b", "x", 2, 0)))
			require.NoError(t, s.AddMember(ctx, member(q, "b", "y", 1, 0)))
			require.Equal(t, map[string]int64{"x": 1}, explore.RowsOf(t, ctx, s, q, "a"))
			require.Equal(t, map[string]int64{"x": 2, "y": 1}, explore.RowsOf(t, ctx, s, q, "b"))
			require.NoError(t, s.RemoveMember(ctx, q, "a", "x", 1))
			require.Empty(t, explore.RowsOf(t, ctx, s, q, "a"))
			require.Equal(t, map[string]int64{"x": 2, "y": 1}, explore.RowsOf(t, ctx, s, q, "b"), "removal touches one bucket")
			require.Empty(t, explore.RowsOf(t, ctx, s, q, "c"))
		},
		"QueueIsolation": func(t *testing.T, ctx context.Context, s storage.Store) {
			q1, q2 := UniqueID("q"), UniqueID("q")
			require.NoError(t, s.AddMember(ctx, member(q1, "s", "x", 1, 0)))
			require.NoError(t, s.AddMember(ctx, member(q2, "s", "x", 4, 0)))
			require.Equal(t, map[string]int64{"x": 1}, explore.RowsOf(t, ctx, s, q1, "s"))
			require.NoError(t, s.RemoveMember(ctx, q1, "s", "x", 10))
			require.Equal(t, map[string]int64{"x": 4}, explore.RowsOf(t, ctx, s, q2, "s"))
		},
		"ManyRows": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			var want []string
			for i := range 120 {
				id := string(rune('a'+i%26)) + UniqueID("")
				want = append(want, id)
				require.NoError(t, s.AddMember(ctx, member(q, "s", id, int64(i+1), i)))
			}
			rows := explore.RowsOf(t, ctx, s, q, "s")
			got := make([]string, 0, len(rows))
			for id := range rows {
				got = append(got, id)
			}
			sort.Strings(got)
			sort.Strings(want)
			require.Equal(t, want, got)
		},
	})
}

// memberPages checks the optional capability storage.MemberPager (the
// Snapshot area runs it) against ListMembers: pages of every size walk the
// bucket in batch id order, and a page of no rows is ErrInvalid. A store
// that lacks it must say so with errors.ErrUnsupported, if it has the
// method at all.
func memberPages(t *testing.T, ctx context.Context, s storage.Store) {
	p, ok := s.(storage.MemberPager)
	if !ok {
		return
	}
	q := UniqueID("q")
	for i := range 7 {
		require.NoError(t, s.AddMember(ctx, member(q, "s", fmt.Sprintf("b%d", 6-i), int64(i+1), i)))
	}
	require.NoError(t, s.AddMember(ctx, member(q, "s2", "b3", 1, 0)))
	if _, err := p.ListMembersPage(ctx, q, "s", "", 1); errors.Is(err, errors.ErrUnsupported) {
		return
	}
	want, err := s.ListMembers(ctx, q, "s")
	require.NoError(t, err)
	slices.SortFunc(want, func(a, b storage.Member) int { return cmp.Compare(a.BatchID, b.BatchID) })
	for _, limit := range []int{1, 3, 7, 8} {
		got := walkPages(t, limit, func(after string) []storage.Member {
			page, err := p.ListMembersPage(ctx, q, "s", after, limit)
			require.NoError(t, err)
			return page
		}, func(m storage.Member) string { return m.BatchID })
		require.Equal(t, want, got, "pages of %d walk the bucket in batch id order", limit)
	}
	_, err = p.ListMembersPage(ctx, q, "s", "", 0)
	require.ErrorIs(t, err, storage.ErrInvalid, "a page of no rows")
}
