package batchstate_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
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

// clock is a settable fake clock; every reading is 1ms after the last, so
// CreatedAt values are distinct.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Store methods the spy counts.
const (
	mCreateBatch  = "CreateBatch"
	mGetBatch     = "GetBatch"
	mGetBatches   = "GetBatches"
	mUpdateBatch  = "UpdateBatch"
	mAddMember    = "AddMember"
	mRemoveMember = "RemoveMember"
	mListMembers  = "ListMembers"
)

var writeMethods = []string{mCreateBatch, mUpdateBatch, mAddMember, mRemoveMember}

// spy wraps a memory store: it counts calls per method and runs an optional
// hook before each call; a hook error fails the call without reaching the
// store, and a hook may block to delay it.
type spy struct {
	inner *memory.Store

	mu    sync.Mutex
	calls map[string]int
	hook  func(ctx context.Context, method string) error
}

func newSpy() *spy { return &spy{inner: memory.New(), calls: map[string]int{}} }

func (s *spy) before(ctx context.Context, method string) error {
	s.mu.Lock()
	s.calls[method]++
	h := s.hook
	s.mu.Unlock()
	if h != nil {
		return h(ctx, method)
	}
	return nil
}

func (s *spy) setHook(h func(ctx context.Context, method string) error) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

// failNext makes the next call of method fail with errInjected; later calls
// go through.
func (s *spy) failNext(method string) {
	var once sync.Once
	s.setHook(func(_ context.Context, m string) error {
		fail := false
		if m == method {
			once.Do(func() { fail = true })
		}
		if fail {
			return fmt.Errorf("%s: %w", m, errInjected)
		}
		return nil
	})
}

func (s *spy) count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

func (s *spy) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

func (s *spy) writes() int {
	n := 0
	for _, m := range writeMethods {
		n += s.count(m)
	}
	return n
}

func (s *spy) reset() {
	s.mu.Lock()
	s.calls = map[string]int{}
	s.mu.Unlock()
}

func (s *spy) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	if err := s.before(ctx, mCreateBatch); err != nil {
		return storage.Batch{}, err
	}
	return s.inner.CreateBatch(ctx, b)
}

func (s *spy) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	if err := s.before(ctx, mGetBatch); err != nil {
		return storage.Batch{}, err
	}
	return s.inner.GetBatch(ctx, queue, id)
}

func (s *spy) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	if err := s.before(ctx, mGetBatches); err != nil {
		return nil, err
	}
	return s.inner.GetBatches(ctx, queue, ids)
}

func (s *spy) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64, expectedState string) (storage.Batch, error) {
	if err := s.before(ctx, mUpdateBatch); err != nil {
		return storage.Batch{}, err
	}
	return s.inner.UpdateBatch(ctx, b, expectedVersion, expectedState)
}

func (s *spy) AddMember(ctx context.Context, m storage.Member) error {
	if err := s.before(ctx, mAddMember); err != nil {
		return err
	}
	return s.inner.AddMember(ctx, m)
}

func (s *spy) RemoveMember(ctx context.Context, queue, state, batchID string, maxVersion int64) error {
	if err := s.before(ctx, mRemoveMember); err != nil {
		return err
	}
	return s.inner.RemoveMember(ctx, queue, state, batchID, maxVersion)
}

func (s *spy) ListMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	if err := s.before(ctx, mListMembers); err != nil {
		return nil, err
	}
	return s.inner.ListMembers(ctx, queue, state)
}

// bundle is an orchestrator over a spy over a memory store, on a fake
// clock, for queue "q".
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
