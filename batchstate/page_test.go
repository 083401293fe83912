package batchstate_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/internal/hook/hooktest"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// pagerStore offers storage.MemberPager over a store that may lack it: a
// bucket read whole, then cut (the answer a pager gives).
type pagerStore struct{ storage.Store }

func (p pagerStore) ListMembersPage(ctx context.Context, queue, state, after string, limit int) ([]storage.Member, error) {
	rs, err := p.ListMembers(ctx, queue, state)
	if err != nil {
		return nil, err
	}
	rs = slices.DeleteFunc(rs, func(r storage.Member) bool { return r.BatchID <= after })
	slices.SortFunc(rs, func(a, b storage.Member) int { return cmp.Compare(a.BatchID, b.BatchID) })
	return rs[:min(limit, len(rs))], nil
}

// snapStore offers storage.Snapshotter over a quiet store: the buckets and
// their batches read with the Store methods (one instant, as long as no
// one writes).
type snapStore struct{ storage.Store }

func (s snapStore) ListSnapshot(ctx context.Context, r storage.SnapshotRequest) (storage.Snapshot, error) {
	var rows []storage.Member
	for _, st := range r.States {
		rs, err := pagerStore(s).ListMembersPage(ctx, r.Queue, st, r.After, cmp.Or(r.Limit, 1<<30))
		if err != nil {
			return storage.Snapshot{}, err
		}
		rows = append(rows, rs...)
	}
	ids := make([]string, 0, len(rows))
	for _, m := range rows {
		ids = append(ids, m.BatchID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if r.Limit > 0 && len(ids) > r.Limit {
		ids = ids[:r.Limit]
	}
	found, err := s.GetBatches(ctx, r.Queue, append(slices.Clone(ids), r.Also...))
	if err != nil {
		return storage.Snapshot{}, err
	}
	var out storage.Snapshot
	for _, m := range rows {
		i := slices.IndexFunc(found, func(b storage.Batch) bool { return b.ID == m.BatchID })
		switch {
		case !slices.Contains(ids, m.BatchID):
		case i >= 0 && found[i].State == m.State:
			out.Batches = append(out.Batches, found[i])
		default:
			o := storage.SnapshotRow{Member: m, Found: i >= 0}
			if o.Found {
				o.BatchState = found[i].State
			}
			out.Others = append(out.Others, o)
		}
	}
	for _, b := range found {
		if slices.Contains(r.Also, b.ID) {
			out.Also = append(out.Also, b)
		}
	}
	return out, nil
}

// seedPages creates n live batches b00..b(n-1) in created and speculating,
// a stale row of each fifth, and a terminal batch with a row, in queue q.
func seedPages(t *testing.T, o *batchstate.Orchestrator, s storage.Store, n int) {
	ctx := context.Background()
	for i := range n {
		b, err := o.Create(ctx, storage.Batch{Queue: "q", ID: fmt.Sprintf("b%02d", i), State: "created"})
		require.NoError(t, err)
		if i%2 == 1 {
			_, err = o.Transition(ctx, b, "speculating")
			require.NoError(t, err)
		}
		if i%5 == 0 {
			require.NoError(t, s.AddMember(ctx, storage.Member{Queue: "q", State: "merging", BatchID: b.ID, Version: 1}))
		}
	}
	b, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "b04x", State: "cancelling"})
	require.NoError(t, err)
	_, err = o.Transition(ctx, b, "cancelled")
	require.NoError(t, err)
	require.NoError(t, s.AddMember(ctx, storage.Member{Queue: "q", State: "speculating", BatchID: "b04x", Version: 1}))
}

// walk reads every page of limit and returns their batches and pages.
func walk(t *testing.T, o *batchstate.Orchestrator, limit int, states ...string) ([]storage.Batch, int) {
	var all []storage.Batch
	pages := 0
	for after := ""; ; {
		p, err := o.ListPage(context.Background(), "q", after, limit, states...)
		require.NoError(t, err)
		pages++
		require.True(t, slices.IsSortedFunc(p.Batches, func(a, b storage.Batch) int { return cmp.Compare(a.ID, b.ID) }), "a page is ordered by id")
		require.LessOrEqual(t, len(p.Batches), limit)
		for _, b := range p.Batches {
			require.Greater(t, b.ID, after, "a page holds only ids after its cursor")
			if p.Next != "" {
				require.LessOrEqual(t, b.ID, p.Next, "and none after its end")
			}
		}
		all = append(all, p.Batches...)
		if p.Next == "" {
			return all, pages
		}
		after = p.Next
	}
}

func TestListPageWalksWhatListReturns(t *testing.T) {
	states := []string{"created", "speculating", "merging"}
	for name, wrap := range map[string]func(storage.Store) storage.Store{
		"generic":  func(s storage.Store) storage.Store { return struct{ storage.Store }{s} },
		"pager":    func(s storage.Store) storage.Store { return pagerStore{s} },
		"snapshot": func(s storage.Store) storage.Store { return snapStore{s} },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := wrap(memory.New())
			o, err := batchstate.New(s, s, mq)
			require.NoError(t, err)
			seedPages(t, o, s, 23)
			p, err := o.ListPage(context.Background(), "q", "", 3, "speculating")
			require.NoError(t, err)
			require.Equal(t, []string{"b01", "b03"}, batchIDs(p.Batches), "b04x's row (terminal) took the third place")
			require.Equal(t, "b04x", p.Next)
			rows, err := s.ListMembers(context.Background(), "q", "speculating")
			require.NoError(t, err)
			require.NotContains(t, batchIDsOf(rows), "b04x", "the row of a terminal batch is removed")
			want, err := o.List(context.Background(), "q", states...)
			require.NoError(t, err)
			slices.SortFunc(want, func(a, b storage.Batch) int { return cmp.Compare(a.ID, b.ID) })
			for _, limit := range []int{1, 4, 23, 24, 100} {
				got, pages := walk(t, o, limit, states...)
				require.Equal(t, want, got, "pages of %d", limit)
				require.LessOrEqual(t, pages, 24/limit+2, "pages of %d", limit)
			}
		})
	}
}

func batchIDsOf(ms []storage.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.BatchID)
	}
	return out
}

// A page through a store that offers MemberPager reads limit rows a
// bucket, not the bucket; without it, the whole bucket.
func TestListPageReadsAPageOfEachBucket(t *testing.T) {
	ctx := context.Background()
	fs := storagetest.NewFaultStore(pagerStore{struct{ storage.Store }{memory.New()}})
	o, err := batchstate.New(fs, fs, mq)
	require.NoError(t, err)
	seedPages(t, o, fs, 30)
	fs.ResetCounts()
	p, err := o.ListPage(ctx, "q", "b10", 5, "created", "speculating")
	require.NoError(t, err)
	require.Equal(t, []string{"b11", "b12", "b13", "b14", "b15"}, batchIDs(p.Batches))
	require.Equal(t, "b15", p.Next)
	require.Equal(t, 2, fs.Calls(storagetest.ListMembersPage))
	require.Zero(t, fs.Calls(storagetest.ListMembers), "no bucket read whole")
	require.Equal(t, 1, fs.Calls(storagetest.GetBatches))
}

func TestListPageRejectsBadInput(t *testing.T) {
	s := memory.New()
	o, err := batchstate.New(s, s, mq)
	require.NoError(t, err)
	for _, c := range []struct {
		queue, after string
		limit        int
		states       []string
		field        string
	}{
		{"q", "", 0, []string{"created"}, "limit"},
		{"q", "\xff", 1, []string{"created"}, "after"},
		{"", "", 1, []string{"created"}, "queue"},
		{"q", "", 1, nil, "states"},
		{"q", "", 1, []string{"succeeded"}, "states"},
	} {
		_, err := o.ListPage(context.Background(), c.queue, c.after, c.limit, c.states...)
		var fe *storage.FieldError
		require.ErrorAs(t, err, &fe, "%+v", c)
		require.Equal(t, c.field, fe.Field)
	}
}

// A page, like List, waits for a Reconcile that holds the lease and, when
// every attempt finds it held, returns ErrConflict — through the generic
// reads and through a snapshot alike.
func TestListPageWaitsForAHeldLease(t *testing.T) {
	for name, wrap := range map[string]func(storage.Store) storage.Store{
		"generic":  func(s storage.Store) storage.Store { return struct{ storage.Store }{s} },
		"snapshot": func(s storage.Store) storage.Store { return snapStore{s} },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := wrap(memory.New())
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			o, err := batchstate.New(s, s, mq, batchstate.WithClock(func() time.Time { return now }), batchstate.WithListRetry(3, 0))
			require.NoError(t, err)
			_, err = o.Create(ctx, storage.Batch{Queue: "q", ID: "b", State: "created"})
			require.NoError(t, err)
			_, err = s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: batchstate.LeaseID, State: "held", UpdatedAt: now})
			require.NoError(t, err)
			_, err = o.ListPage(ctx, "q", "", 10, "created")
			require.ErrorIs(t, err, storage.ErrConflict)
			_, err = o.List(ctx, "q", "created")
			require.ErrorIs(t, err, storage.ErrConflict)
			now = now.Add(time.Hour) // the lease outlived its duration: a crashed Reconcile's
			p, err := o.ListPage(ctx, "q", "", 10, "created")
			require.NoError(t, err)
			require.Equal(t, []string{"b"}, batchIDs(p.Batches))
		})
	}
}

// The hooks hear a ListPage as a call of its own, with the page's count,
// and its re-reads as List's.
func TestHooksListPage(t *testing.T) {
	ctx := context.Background()
	var h hooktest.Heard
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := struct{ storage.Store }{memory.New()}
	o, err := batchstate.New(s, s, mq, batchstate.WithHooks(h.Hooks()), batchstate.WithListRetry(2, 0),
		batchstate.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	for _, id := range []string{"a", "b", "c"} {
		_, err = o.Create(ctx, storage.Batch{Queue: "q", ID: id, State: "created"})
		require.NoError(t, err)
	}
	p, err := o.ListPage(ctx, "q", "", 2, "created")
	require.NoError(t, err)
	require.Equal(t, "b", p.Next)
	_, err = s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: batchstate.LeaseID, State: "held", UpdatedAt: now})
	require.NoError(t, err)
	_, err = o.ListPage(ctx, "q", "b", 2, "created")
	require.ErrorIs(t, err, storage.ErrConflict)
	require.Equal(t, []string{
		`Create q created "" 0`, `Create q created "" 0`, `Create q created "" 0`,
		`ListPage q  "" 2`,
		`  reread held 1 attempt 0 in ListPage`,
		`ListPage q  "conflict" 0`,
	}, h.Lines)
}
