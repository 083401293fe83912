package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/explore"
)

// runSnapshot checks the optional capabilities storage.Snapshotter and
// storage.MemberPager against what the Store methods every store has
// answer (the generic path batchstate uses without them). A store that
// offers neither must say so with errors.ErrUnsupported, if it has the
// methods at all.
func runSnapshot(t *testing.T, newStore func(t *testing.T) storage.Store) {
	explore.Parallel(t, newStore, map[string]func(t *testing.T, ctx context.Context, s storage.Store){
		"MatchesGeneric": func(t *testing.T, ctx context.Context, s storage.Store) {
			snap, ok := snapshotterOf(t, ctx, s)
			if !ok {
				return
			}
			q := seedSnapshotQueue(t, ctx, s)
			r := storage.SnapshotRequest{Queue: q, States: []string{"s1", "s2"}, Also: []string{"lease", "absent"}}
			got, err := snap.ListSnapshot(ctx, r)
			require.NoError(t, err)
			requireSnapshot(t, genericSnapshot(t, ctx, s, r), got)

			r.OthersIn = []string{"done"}
			got, err = snap.ListSnapshot(ctx, r)
			require.NoError(t, err)
			want := genericSnapshot(t, ctx, s, r)
			require.ElementsMatch(t, want.Batches, got.Batches, "OthersIn never changes the batches")
			for _, o := range rowKeys(want.Others) {
				if o.BatchState == "done" {
					require.Contains(t, rowKeys(got.Others), o, "every row of a batch in an OthersIn state is reported")
				}
			}
			for _, o := range rowKeys(got.Others) {
				require.Contains(t, rowKeys(want.Others), o, "a row reported is a row whose batch is not in its state")
			}
		},
		"AnyState": func(t *testing.T, ctx context.Context, s storage.Store) {
			snap, ok := snapshotterOf(t, ctx, s)
			if !ok {
				return
			}
			q := seedSnapshotQueue(t, ctx, s)
			r := storage.SnapshotRequest{Queue: q, States: []string{"s2"}, AnyState: true}
			got, err := snap.ListSnapshot(ctx, r)
			require.NoError(t, err)
			requireSnapshot(t, genericSnapshot(t, ctx, s, r), got)
			require.Contains(t, snapshotIDs(got), "b0", "a row's batch stored in another state is one of the batches")
			require.Len(t, got.Others, 1, "only the row of the missing batch is another")
		},
		"Pages": func(t *testing.T, ctx context.Context, s storage.Store) {
			snap, ok := snapshotterOf(t, ctx, s)
			if !ok {
				return
			}
			q := seedSnapshotQueue(t, ctx, s)
			all := storage.SnapshotRequest{Queue: q, States: []string{"s1", "s2"}}
			for _, limit := range []int{1, 2, 3, 100} {
				ids := walkPages(t, limit, func(after string) []string {
					r := all
					r.After, r.Limit = after, limit
					got, err := snap.ListSnapshot(ctx, r)
					require.NoError(t, err)
					requireSnapshot(t, genericSnapshot(t, ctx, s, r), got)
					return snapshotIDs(got)
				}, func(id string) string { return id })
				want, err := snap.ListSnapshot(ctx, all)
				require.NoError(t, err)
				require.Equal(t, snapshotIDs(want), ids, "the pages (limit %d) walk every id once, in order", limit)
			}
		},
		"OneInstant": func(t *testing.T, ctx context.Context, s storage.Store) {
			snap, ok := snapshotterOf(t, ctx, s)
			if !ok {
				return
			}
			b := createBatch(t, ctx, s, "x", "s1")
			q := b.Queue
			require.NoError(t, s.AddMember(ctx, storage.Member{Queue: q, State: "s1", BatchID: "x", Version: 1}))
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() { moveAndClean(t, ctx, s, b, stop) })
			defer wg.Wait()
			defer close(stop)
			for range 100 {
				got, err := snap.ListSnapshot(ctx, storage.SnapshotRequest{Queue: q, States: []string{"s1", "s2"}})
				require.NoError(t, err)
				require.Len(t, got.Batches, 1, "the batch always has the row of its state: one instant finds it, once (got %+v)", got)
			}
		},
		"MemberPages": memberPages,
		"Validation": func(t *testing.T, ctx context.Context, s storage.Store) {
			snap, ok := snapshotterOf(t, ctx, s)
			if !ok {
				return
			}
			q := UniqueID("q")
			for _, r := range []storage.SnapshotRequest{
				{Queue: "", States: []string{"s"}},
				{Queue: q},
				{Queue: q, States: []string{"s", "s"}},
				{Queue: q, States: []string{""}},
				{Queue: q, States: []string{"s"}, Also: []string{"a", "a"}},
				{Queue: q, States: []string{"s"}, Limit: -1},
			} {
				_, err := snap.ListSnapshot(ctx, r)
				require.ErrorIs(t, err, storage.ErrInvalid, "%+v", r)
			}
		},
	})
}

// snapshotterOf returns the store's Snapshotter, if it offers one: a store
// with the method that lacks the capability answers errors.ErrUnsupported
// (checked here), and the caller has nothing more to check.
func snapshotterOf(t *testing.T, ctx context.Context, s storage.Store) (storage.Snapshotter, bool) {
	snap, ok := s.(storage.Snapshotter)
	if !ok {
		return nil, false
	}
	_, err := snap.ListSnapshot(ctx, storage.SnapshotRequest{Queue: UniqueID("q"), States: []string{"s"}})
	if errors.Is(err, errors.ErrUnsupported) {
		return nil, false
	}
	require.NoError(t, err, "ListSnapshot of an empty queue")
	return snap, true
}

// walkPages reads pages of at most limit items with read, each page after
// the key of the last item of the one before, until a page is short, and
// returns the items of every page in the order read.
func walkPages[T any](t *testing.T, limit int, read func(after string) []T, key func(T) string) []T {
	var all []T
	for after := ""; ; {
		page := read(after)
		require.LessOrEqual(t, len(page), limit, "a page holds at most Limit items")
		all = append(all, page...)
		if len(page) < limit {
			return all
		}
		after = key(page[len(page)-1])
	}
}

// seedSnapshotQueue writes a queue with every kind of row: batches in s1
// and s2 with their rows, a batch with rows in both, stale rows of moved
// batches, rows of missing batches, rows of a terminal batch, a lease row
// with no row, and the same ids in another queue.
func seedSnapshotQueue(t *testing.T, ctx context.Context, s storage.Store) string {
	q, other := UniqueID("q"), UniqueID("q")
	batch := func(queue, id, state string) {
		_, err := s.CreateBatch(ctx, storage.Batch{Queue: queue, ID: id, State: state, Payload: []byte("p-" + id), CreatedAt: ts(len(id)), UpdatedAt: ts(1)})
		require.NoError(t, err)
	}
	row := func(queue, state, id string) { require.NoError(t, s.AddMember(ctx, member(queue, state, id, 1, 0))) }
	for i := range 6 {
		id, state := fmt.Sprintf("b%d", i), []string{"s1", "s2"}[i%2]
		batch(q, id, state)
		row(q, state, id)
		batch(other, id, "s1")
		row(other, "s1", id)
	}
	row(q, "s2", "b0")           // both rows of a batch in s1
	batch(q, "moved", "s3")      // a stale row: the batch moved to a state not asked
	row(q, "s1", "moved")        //
	row(q, "s2", "missing")      // a row whose batch does not exist
	batch(q, "finished", "done") // rows of a terminal batch
	row(q, "s1", "finished")
	row(q, "s2", "finished")
	batch(q, "lease", "idle")
	return q
}

// genericSnapshot answers r with the Store methods: each bucket, then its
// rows' batches.
func genericSnapshot(t *testing.T, ctx context.Context, s storage.Store, r storage.SnapshotRequest) storage.Snapshot {
	var rows []storage.Member
	for _, st := range r.States {
		ms, err := s.ListMembers(ctx, r.Queue, st)
		require.NoError(t, err)
		rows = append(rows, ms...)
	}
	ids := map[string]bool{}
	for _, m := range rows {
		ids[m.BatchID] = true
	}
	page := slices.Sorted(func(yield func(string) bool) {
		for id := range ids {
			if id > r.After && !yield(id) {
				return
			}
		}
	})
	if r.Limit > 0 && len(page) > r.Limit {
		page = page[:r.Limit]
	}
	found, err := s.GetBatches(ctx, r.Queue, append(slices.Clone(page), r.Also...))
	require.NoError(t, err)
	byID := map[string]storage.Batch{}
	for _, b := range found {
		byID[b.ID] = b
	}
	var out storage.Snapshot
	for _, m := range rows {
		if !slices.Contains(page, m.BatchID) {
			continue
		}
		b, ok := byID[m.BatchID]
		if ok && (r.AnyState || b.State == m.State) {
			out.Batches = append(out.Batches, b)
			continue
		}
		out.Others = append(out.Others, storage.SnapshotRow{Member: storage.Member{Queue: r.Queue, State: m.State, BatchID: m.BatchID}, Found: ok, BatchState: b.State})
	}
	for _, id := range r.Also {
		if b, ok := byID[id]; ok {
			out.Also = append(out.Also, b)
		}
	}
	return out
}

// requireSnapshot compares two snapshots as sets, the rows by key (a
// store may leave a row's Version and AddedAt zero).
func requireSnapshot(t *testing.T, want, got storage.Snapshot) {
	t.Helper()
	require.ElementsMatch(t, want.Batches, got.Batches, "the batches stored in the state of a row read")
	require.ElementsMatch(t, want.Also, got.Also, "the batches of Also")
	require.ElementsMatch(t, rowKeys(want.Others), rowKeys(got.Others), "the rows whose batch is missing or elsewhere")
}

// rowKeys returns rs with each row's Version and AddedAt zeroed.
func rowKeys(rs []storage.SnapshotRow) []storage.SnapshotRow {
	out := make([]storage.SnapshotRow, len(rs))
	for i, r := range rs {
		out[i] = storage.SnapshotRow{Member: storage.Member{Queue: r.Member.Queue, State: r.Member.State, BatchID: r.Member.BatchID},
			Found: r.Found, BatchState: r.BatchState}
	}
	return out
}

// snapshotIDs returns the batch ids of snap's rows, sorted, each once.
func snapshotIDs(snap storage.Snapshot) []string {
	var ids []string
	for _, b := range snap.Batches {
		ids = append(ids, b.ID)
	}
	for _, r := range snap.Others {
		ids = append(ids, r.Member.BatchID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// moveAndClean moves b between s1 and s2 by the batchstate protocol (the
// new state's row first, then the batch, then the old row removed) until
// stop is closed: at every instant the row of the batch's state exists.
func moveAndClean(t *testing.T, ctx context.Context, s storage.Store, b storage.Batch, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		from, to := b.State, map[string]string{"s1": "s2", "s2": "s1"}[b.State]
		if err := s.AddMember(ctx, storage.Member{Queue: b.Queue, State: to, BatchID: b.ID, Version: b.Version + 1}); err != nil {
			t.Errorf("add member: %v", err)
			return
		}
		next := b
		next.State = to
		moved, err := s.UpdateBatch(ctx, next, b.Version, from)
		if err != nil {
			t.Errorf("move: %v", err)
			return
		}
		if err := s.RemoveMember(ctx, b.Queue, from, b.ID, b.Version); err != nil {
			t.Errorf("remove member: %v", err)
			return
		}
		b = moved
	}
}
