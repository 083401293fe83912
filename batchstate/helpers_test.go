package batchstate_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// mq is the merge-queue machine most tests use.
var mq = batchstate.Machine{
	States:   []string{"created", "speculating", "merging", "succeeded", "failed", "cancelling", "cancelled"},
	Terminal: []string{"succeeded", "failed", "cancelled"},
	Transitions: map[string][]string{
		"created":     {"speculating", "cancelling"},
		"speculating": {"merging", "failed", "created", "cancelling"},
		"merging":     {"succeeded", "failed"},
		"cancelling":  {"cancelled"},
	},
}

// errInjected is what the spy's hooks return.
var errInjected = errors.New("injected")

// clock is the suite's fake clock: every reading is 1ms after the last,
// so CreatedAt values are distinct.
type clock = explore.Clock

func newClock() *clock {
	return explore.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), time.Millisecond)
}

// Store methods the tests name.
const (
	mCreateBatch  = storagetest.CreateBatch
	mGetBatch     = storagetest.GetBatch
	mGetBatches   = storagetest.GetBatches
	mUpdateBatch  = storagetest.UpdateBatch
	mAddMember    = storagetest.AddMember
	mRemoveMember = storagetest.RemoveMember
	mListMembers  = storagetest.ListMembers
)

// spy is the contract suite's fault injector over a memory store, with
// the shorthands these tests use: it counts calls per method, and a hook
// runs before each call (an error fails the call without reaching the
// store; a hook may block to delay it).
type spy struct {
	*storagetest.FaultStore
	inner *memory.Store
}

// newSpy returns a spy over a new memory store seen through its
// storage.Store methods only: these tests check the protocols every store
// runs, not the shortcuts of the store's optional capabilities.
func newSpy() *spy {
	inner := memory.New()
	return &spy{FaultStore: storagetest.NewFaultStore(struct{ storage.Store }{inner}), inner: inner}
}

func (s *spy) setHook(h func(ctx context.Context, m storagetest.Method) error) { s.SetHook(h) }

// failNext makes the next call of method fail with errInjected; later calls
// go through.
func (s *spy) failNext(method storagetest.Method) {
	// A FailBefore fault is always valid: Inject cannot fail.
	_, _ = s.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 1,
		Methods: []storagetest.Method{method}, Err: errInjected})
}

func (s *spy) count(m storagetest.Method) int { return s.Calls(m) }
func (s *spy) total() int                     { return s.TotalCalls() }
func (s *spy) writes() int                    { return s.Writes() }
func (s *spy) reset()                         { s.ResetCounts() }

type bundle struct {
	spy   *spy
	store *memory.Store
	o     *batchstate.Orchestrator
	clock *clock
	m     batchstate.Machine
}

func setup(t *testing.T, m batchstate.Machine, opts ...batchstate.Option) *bundle {
	t.Helper()
	s := newSpy()
	b := &bundle{spy: s, store: s.inner, clock: newClock(), m: m}
	var err error
	b.o, err = batchstate.New(s, s, m, append([]batchstate.Option{batchstate.WithClock(b.clock.Now), batchstate.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	require.NoError(t, err)
	return b
}

func (b *bundle) create(t *testing.T, id, state string) storage.Batch {
	t.Helper()
	bt, err := b.o.Create(context.Background(), storage.Batch{Queue: "q", ID: id, State: state})
	require.NoError(t, err)
	return bt
}

func (b *bundle) get(t *testing.T, id string) storage.Batch {
	t.Helper()
	bt, err := b.store.GetBatch(context.Background(), "q", id)
	require.NoError(t, err)
	return bt
}

// ids lists queue "q" in states and returns the ids in result order.
func (b *bundle) ids(t *testing.T, states ...string) []string {
	t.Helper()
	got, err := b.o.List(context.Background(), "q", states...)
	require.NoError(t, err)
	return batchIDs(got)
}

// rows returns the index rows of one bucket of "q", read past the spy, as
// batch id → row version.
func (b *bundle) rows(t *testing.T, state string) map[string]int64 {
	t.Helper()
	ms, err := b.store.ListMembers(context.Background(), "q", state)
	require.NoError(t, err)
	out := make(map[string]int64, len(ms))
	for _, m := range ms {
		out[m.BatchID] = m.Version
	}
	return out
}

func batchIDs(bs []storage.Batch) []string {
	out := make([]string, len(bs))
	for i, x := range bs {
		out[i] = x.ID
	}
	return out
}

// checkListedExactly verifies, on a quiet store, that List of each
// non-terminal state returns exactly the batches stored in it.
func checkListedExactly(t *testing.T, b *bundle, ids []string) {
	t.Helper()
	want := map[string][]string{}
	for _, id := range ids {
		bt := b.get(t, id)
		if !b.m.IsTerminal(bt.State) {
			want[bt.State] = append(want[bt.State], id)
		}
	}
	for _, s := range b.m.NonTerminal() {
		require.ElementsMatch(t, want[s], b.ids(t, s), "List(%q) must return exactly the batches stored in it", s)
	}
}

// checkIndexExact verifies, on a quiet store, that the index holds exactly
// one row per non-terminal batch, in its state's bucket, and no other row.
func checkIndexExact(t *testing.T, b *bundle, ids []string) {
	t.Helper()
	want := map[string]map[string]bool{}
	for _, s := range b.m.NonTerminal() {
		want[s] = map[string]bool{}
	}
	for _, id := range ids {
		bt := b.get(t, id)
		if !b.m.IsTerminal(bt.State) {
			want[bt.State][id] = true
		}
	}
	for _, s := range b.m.NonTerminal() {
		got := map[string]bool{}
		for id := range b.rows(t, s) {
			got[id] = true
		}
		require.Equal(t, want[s], got, "rows of bucket %q", s)
	}
}
