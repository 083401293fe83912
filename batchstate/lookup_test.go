package batchstate_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// open is a machine whose batches may be rewritten in place: open → open.
var open = batchstate.Machine{States: []string{"open", "done"}, Terminal: []string{"done"}}

// requests files a batch under the comma-separated requests of its payload.
func requests(b storage.Batch) []string {
	if len(b.Payload) == 0 {
		return nil
	}
	return strings.Split(string(b.Payload), ",")
}

func setupIndexed(t *testing.T, opts ...batchstate.Option) *bundle {
	t.Helper()
	return setup(t, open, append([]batchstate.Option{batchstate.WithIndex("req", requests), batchstate.WithFinishedIndex()}, opts...)...)
}

func (b *bundle) createWith(t *testing.T, id, reqs string) storage.Batch {
	t.Helper()
	bt, err := b.o.Create(context.Background(), storage.Batch{Queue: "q", ID: id, State: "open", Payload: []byte(reqs)})
	require.NoError(t, err)
	return bt
}

// rewrite moves x to state with the requests reqs.
func (b *bundle) rewrite(t *testing.T, x storage.Batch, state, reqs string) storage.Batch {
	t.Helper()
	x.Payload = []byte(reqs)
	got, err := b.o.Transition(context.Background(), x, state)
	require.NoError(t, err)
	return got
}

func (b *bundle) lookup(t *testing.T, key string) []string {
	t.Helper()
	got, err := b.o.Lookup(context.Background(), "q", "req", key)
	require.NoError(t, err)
	return batchIDs(got)
}

func TestLookupFollowsTheBatchRow(t *testing.T) {
	t.Parallel()
	b := setupIndexed(t)
	x := b.createWith(t, "x", "r1,r2")
	b.createWith(t, "y", "r2")
	require.Equal(t, []string{"x"}, b.lookup(t, "r1"))
	require.Equal(t, []string{"x", "y"}, b.lookup(t, "r2"), "by (CreatedAt, ID)")
	x = b.rewrite(t, x, "open", "r3")
	require.Empty(t, b.lookup(t, "r1"))
	require.Empty(t, b.rows(t, "\x00statefold:key:req:r1"), "the transition removed the row of the key it dropped")
	require.Equal(t, []string{"x"}, b.lookup(t, "r3"))
	b.rewrite(t, x, "done", "r3")
	require.Equal(t, []string{"x"}, b.lookup(t, "r3"), "a finished batch keeps its keys")
	b.spy.reset()
	require.Empty(t, b.lookup(t, "nobody"))
	require.Equal(t, 1, b.spy.count(mListMembers), "one bucket read")
}

func TestLookupInputErrorsCallNothing(t *testing.T) {
	t.Parallel()
	b := setupIndexed(t)
	ctx := context.Background()
	b.spy.reset()
	for name, call := range map[string]func() error{
		"unknown index": func() error { _, err := b.o.Lookup(ctx, "q", "nope", "k"); return err },
		"empty key":     func() error { _, err := b.o.Lookup(ctx, "q", "req", ""); return err },
		"long key":      func() error { _, err := b.o.Lookup(ctx, "q", "req", strings.Repeat("k", 201)); return err },
		"empty queue":   func() error { _, err := b.o.Lookup(ctx, "", "req", "k"); return err },
		"bad key write": func() error {
			_, err := b.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "open", Payload: []byte("a,,b")})
			return err
		},
		"empty range": func() error {
			now := time.Now()
			_, err := b.o.ListFinished(ctx, "q", now, now.Add(-1))
			return err
		},
	} {
		require.ErrorIs(t, call(), storage.ErrInvalid, name)
	}
	require.Zero(t, b.spy.total(), "input errors come before any store call")
	plain := setup(t, open)
	_, err := plain.o.ListFinished(ctx, "q", time.Now(), time.Now().Add(time.Hour))
	require.ErrorIs(t, err, storage.ErrInvalid, "without WithFinishedIndex")
}

func TestWithIndexRejects(t *testing.T) {
	t.Parallel()
	s := newSpy()
	for name, opts := range map[string][]batchstate.Option{
		"a bad name":    {batchstate.WithIndex("a:b", requests)},
		"a name twice":  {batchstate.WithIndex("req", requests), batchstate.WithIndex("req", requests)},
		"nil keys":      {batchstate.WithIndex("req", nil)},
		"an empty name": {batchstate.WithIndex("", requests)},
	} {
		_, err := batchstate.New(s, s, open, opts...)
		require.ErrorIs(t, err, storage.ErrInvalid, name)
		require.ErrorContains(t, err, "WithIndex", name)
	}
}

// A row left by a failed removal, and the rows of a create that never
// landed, are never returned, and Reconcile removes them.
func TestReconcileRemovesStaleKeyRows(t *testing.T) {
	t.Parallel()
	b := setupIndexed(t)
	ctx := context.Background()
	x := b.createWith(t, "x", "r1")
	b.spy.failNext(mRemoveMember)
	b.rewrite(t, x, "open", "r2")
	require.Equal(t, map[string]int64{"x": 1}, b.rows(t, "\x00statefold:key:req:r1"), "the failed removal left the row")
	require.Empty(t, b.lookup(t, "r1"), "Lookup filters by the batch row")
	b.spy.failNext(mCreateBatch)
	_, err := b.o.Create(ctx, storage.Batch{Queue: "q", ID: "ghost", State: "open", Payload: []byte("r1")})
	require.Error(t, err)
	require.Empty(t, b.lookup(t, "r1"), "a row whose batch does not exist is not returned")

	b.clock.Advance(batchstate.DefaultDanglingGrace + time.Second)
	rep, err := b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, batchstate.IndexReport{Marks: 2, Cleared: 2, Scanned: 3, Removed: 2, Kept: 1}, rep.Indexes)
	require.Empty(t, b.rows(t, "\x00statefold:key:req:r1"))
	require.Equal(t, []string{"x"}, b.lookup(t, "r2"))
	rep, err = b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, batchstate.IndexReport{}, rep.Indexes, "settled keys are not read again")
}

// pauseFirst pauses the first call of method until release is closed;
// reached is closed when it is reached.
func pauseFirst(b *bundle, method storagetest.Method) (reached, release chan struct{}) {
	reached, release = make(chan struct{}), make(chan struct{})
	var held atomic.Bool
	b.spy.setHook(func(_ context.Context, m storagetest.Method) error {
		if m == method && held.CompareAndSwap(false, true) {
			close(reached)
			<-release
		}
		return nil
	})
	return reached, release
}

// A Lookup that read the old key's row before a Transition moved the batch
// to a new key does not return the batch under the old key.
func TestLookupRaceNotUnderTheOldKey(t *testing.T) {
	t.Parallel()
	b := setupIndexed(t)
	x := b.createWith(t, "x", "r1")
	reached, release := pauseFirst(b, mGetBatches) // after Lookup's ListMembers
	got := make(chan []string, 1)
	go func() { ids, _ := b.o.Lookup(context.Background(), "q", "req", "r1"); got <- batchIDsOr(ids) }()
	<-reached
	b.rewrite(t, x, "open", "r2")
	close(release)
	require.Empty(t, <-got, "x's row no longer has r1")
	require.Equal(t, []string{"x"}, b.lookup(t, "r2"))
}

// A Transition's delayed removal of the key it dropped does not take the
// row a newer Transition re-added: the batch stays found under the key.
func TestLookupRaceDelayedRemoval(t *testing.T) {
	t.Parallel()
	b := setupIndexed(t)
	ctx := context.Background()
	x := b.createWith(t, "x", "r1")
	reached, release := pauseFirst(b, mRemoveMember)
	done := make(chan error, 1)
	moved := make(chan storage.Batch, 1)
	go func() {
		y := x
		y.Payload = []byte("r2")
		z, err := b.o.Transition(ctx, y, "open") // its removal of r1 (max version 2) is held
		moved <- z
		done <- err
	}()
	<-reached
	x2, err := b.store.GetBatch(ctx, "q", "x")
	require.NoError(t, err)
	b.rewrite(t, x2, "open", "r1") // back to r1 at version 3
	require.Equal(t, []string{"x"}, b.lookup(t, "r1"))
	close(release)
	require.NoError(t, <-done)
	require.Equal(t, int64(2), (<-moved).Version)
	require.Equal(t, map[string]int64{"x": 3}, b.rows(t, "\x00statefold:key:req:r1"), "the delayed removal did not take the newer row")
	require.Equal(t, []string{"x"}, b.lookup(t, "r1"))
}

// batchIDsOr returns the ids of bs, nil for none.
func batchIDsOr(bs []storage.Batch) []string {
	if len(bs) == 0 {
		return nil
	}
	return batchIDs(bs)
}

func TestListFinished(t *testing.T) {
	t.Parallel()
	b := setupIndexed(t)
	ctx := context.Background()
	start := b.clock.Now()
	x := b.createWith(t, "x", "r1")
	y := b.createWith(t, "y", "r2")
	b.clock.Advance(30 * time.Hour)
	y = b.rewrite(t, y, "done", "r2")
	b.clock.Advance(time.Hour)
	x = b.rewrite(t, x, "done", "r1")
	got, err := b.o.ListFinished(ctx, "q", start, b.clock.Now())
	require.NoError(t, err)
	require.Equal(t, []string{"y", "x"}, batchIDs(got), "by completion time")
	got, err = b.o.ListFinished(ctx, "q", start, x.UpdatedAt)
	require.NoError(t, err)
	require.Equal(t, []string{"y"}, batchIDs(got), "until is excluded")
	require.Equal(t, y, got[0])
}

// A terminal move that lost its compare-and-swap takes its completion row
// back: the batch it did not finish is never listed as finished.
func TestListFinishedLostMove(t *testing.T) {
	t.Parallel()
	b := setupIndexed(t)
	ctx := context.Background()
	x := b.createWith(t, "x", "r1")
	b.rewrite(t, x, "open", "r1")
	_, err := b.o.Transition(ctx, x, "done") // x is at version 2 now
	require.ErrorIs(t, err, storage.ErrConflict)
	got, err := b.o.ListFinished(ctx, "q", x.CreatedAt, b.clock.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Empty(t, got)
	require.Empty(t, b.rows(t, "\x00statefold:done:"+b.clock.Now().Format("2006-01-02")))
}
