package explore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/faultstore"
)

// runRaces runs one deterministic test per known batchstate race: a store
// call of one caller is held (a Block fault) while another caller runs,
// then released, so the interleaving is forced rather than hoped for.
func runRaces(t *testing.T, newStore func(t *testing.T) storage.Store) {
	cases := map[string]func(t *testing.T, ctx context.Context, s storage.Store){
		"RetriedCreateVsReconcile":     raceRetriedCreateVsReconcile,
		"ReconcileVsRetriedCreate":     raceReconcileVsRetriedCreate,
		"SkewedCreateVsReconcile":      raceSkewedCreateVsReconcile,
		"SlowCreateVsReconcile":        raceSlowCreateVsReconcile,
		"ListVsMover":                  raceListVsMover,
		"ListVsMoverAndReconcile":      raceListVsMoverAndReconcile,
		"TransitionWithEditedState":    raceTransitionWithEditedState,
		"TransitionWithVersionTooHigh": raceTransitionWithVersionTooHigh,
		"QuietListCost":                quietListCost,
	}
	Parallel(t, newStore, cases)
}

// raceEnv is an orchEnv whose faulty orchestrator reads buckets one at a
// time, in the order List is given them, so a Block fault on the k-th
// ListMembers holds a known bucket.
func raceEnv(t *testing.T, s storage.Store, opts ...batchstate.Option) *orchEnv {
	t.Helper()
	e := newOrchEnv(t, s)
	all := append([]batchstate.Option{batchstate.WithClock(e.clock.Now), batchstate.WithDanglingGrace(crashGrace),
		batchstate.WithLogger(testLogger(t)), batchstate.WithListConcurrency(1)}, opts...)
	var err error
	e.faulty, err = batchstate.New(e.fs, e.fs, CrashMachine, all...)
	require.NoError(t, err)
	return e
}

// hold injects a Block fault on the call-th call of methods and returns
// the injection and the function that releases it.
func hold(t *testing.T, e *orchEnv, call int, methods ...faultstore.Method) (*faultstore.Injection, func()) {
	t.Helper()
	release := make(chan struct{})
	in, err := e.fs.Inject(faultstore.Fault{Mode: faultstore.Block, Call: call, Methods: methods, Release: release})
	require.NoError(t, err)
	var once sync.Once
	return in, func() { once.Do(func() { close(release) }) }
}

// awaitHeld waits until the call in holds is held; a call that never comes
// fails the test within a minute instead of hanging it.
func awaitHeld(t *testing.T, in *faultstore.Injection) {
	t.Helper()
	select {
	case <-in.Reached():
	case <-time.After(time.Minute):
		t.Fatal("the call to hold never came: the protocol no longer makes it")
	}
}

// goRun runs f in a goroutine and returns a channel with its error.
func goRun(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// checkBatches checks invariants I and II over e's batches, then that a
// Reconcile past the grace leaves exactly one row per live batch.
func checkBatches(ctx context.Context, t *testing.T, e *orchEnv) {
	t.Helper()
	list := func(ctx context.Context, queue string, states ...string) ([]storage.Batch, error) {
		return e.clean.List(ctx, queue, states...)
	}
	require.NoError(t, CheckListed(ctx, e.store, list, CrashMachine, e.queue, e.ids))
	e.clock.Advance(2 * crashGrace)
	_, err := e.clean.Reconcile(ctx, e.queue)
	require.NoError(t, err)
	require.NoError(t, CheckIndexExact(ctx, e.store, CrashMachine, e.queue, e.ids))
	require.NoError(t, CheckListed(ctx, e.store, list, CrashMachine, e.queue, e.ids))
}

// A Create whose batch write failed is retried past the grace; the retry
// runs whole between Reconcile's reads and its first write. The batch
// must end stored and listed: Reconcile's fence (a tombstone create) finds
// the batch and keeps the row.
func raceRetriedCreateVsReconcile(t *testing.T, ctx context.Context, s storage.Store) {
	e := raceEnv(t, s)
	e.ids = append(e.ids, "x")
	x := storage.Batch{Queue: e.queue, ID: "x", State: "queued"}
	_, err := e.fs.Inject(faultstore.Fault{Mode: faultstore.FailBefore, Call: 1, Methods: []faultstore.Method{faultstore.CreateBatch}})
	require.NoError(t, err)
	_, err = e.faulty.Create(ctx, x)
	require.ErrorIs(t, err, faultstore.ErrInjected)
	e.fs.ClearFaults()
	e.clock.Advance(2 * crashGrace)

	in, release := hold(t, e, 1, faultstore.CreateBatch, faultstore.RemoveMember, faultstore.UpdateBatch) // Reconcile's first write
	rec := goRun(func() error { _, err := e.faulty.Reconcile(ctx, e.queue); return err })
	awaitHeld(t, in)
	_, err = e.clean.Create(ctx, x) // the retry
	require.NoError(t, err)
	release()
	require.NoError(t, <-rec)
	got := e.get(ctx, t, "x")
	require.Equal(t, "queued", got.State, "the retried create stands")
	checkBatches(ctx, t, e)
}

// The other order: the retry's row lands (refreshing its AddedAt), the
// retry stalls past the grace, and Reconcile runs whole while the retry's
// batch write is held. Reconcile abandons the
// id; the retry must fail, not store a batch without a row.
func raceReconcileVsRetriedCreate(t *testing.T, ctx context.Context, s storage.Store) {
	e := raceEnv(t, s)
	e.ids = append(e.ids, "x")
	x := storage.Batch{Queue: e.queue, ID: "x", State: "queued"}
	_, err := e.clean.Create(ctx, storage.Batch{Queue: e.queue, ID: "other", State: "queued"})
	require.NoError(t, err)
	e.ids = append(e.ids, "other")
	require.NoError(t, e.store.AddMember(ctx, storage.Member{Queue: e.queue, State: "queued", BatchID: "x", Version: 1, AddedAt: e.clock.Now()}))
	e.clock.Advance(2 * crashGrace) // the first attempt's row is past the grace

	in, release := hold(t, e, 1, faultstore.CreateBatch)
	retry := goRun(func() error { _, err := e.faulty.Create(ctx, x); return err })
	awaitHeld(t, in)
	e.clock.Advance(2 * crashGrace) // the retry is slow too
	rep, err := e.clean.Reconcile(ctx, e.queue)
	require.NoError(t, err)
	require.Equal(t, 1, rep.RemovedDangling)
	release()
	require.ErrorIs(t, <-retry, storage.ErrAlreadyExists, "the create lost to the tombstone and says so")
	require.Equal(t, batchstate.Abandoned, e.get(ctx, t, "x").State)
	checkBatches(ctx, t, e)
}

// A writer whose clock is behind by more than the grace creates a batch;
// a Reconcile between its two writes sees its row as old. The create must
// fail or be listed — never store a batch without a row.
func raceSkewedCreateVsReconcile(t *testing.T, ctx context.Context, s storage.Store) {
	e := raceEnv(t, s)
	behind := func() time.Time { return e.clock.Now().Add(-3 * crashGrace) }
	skewed, err := batchstate.New(e.fs, e.fs, CrashMachine, batchstate.WithClock(behind),
		batchstate.WithDanglingGrace(crashGrace), batchstate.WithLogger(testLogger(t)))
	require.NoError(t, err)
	e.ids = append(e.ids, "x")
	in, release := hold(t, e, 1, faultstore.CreateBatch)
	create := goRun(func() error {
		_, err := skewed.Create(ctx, storage.Batch{Queue: e.queue, ID: "x", State: "queued"})
		return err
	})
	awaitHeld(t, in)
	_, err = e.clean.Reconcile(ctx, e.queue)
	require.NoError(t, err)
	release()
	err = <-create
	require.ErrorIs(t, err, storage.ErrAlreadyExists, "fenced off: the create reports it failed")
	checkBatches(ctx, t, e)
}

// A Create merely slower than the grace: the same, with a true clock.
func raceSlowCreateVsReconcile(t *testing.T, ctx context.Context, s storage.Store) {
	e := raceEnv(t, s)
	e.ids = append(e.ids, "x")
	in, release := hold(t, e, 1, faultstore.CreateBatch)
	create := goRun(func() error {
		_, err := e.faulty.Create(ctx, storage.Batch{Queue: e.queue, ID: "x", State: "running"})
		return err
	})
	awaitHeld(t, in)
	e.clock.Advance(2 * crashGrace)
	_, err := e.clean.Reconcile(ctx, e.queue)
	require.NoError(t, err)
	release()
	require.ErrorIs(t, <-create, storage.ErrAlreadyExists)
	checkBatches(ctx, t, e)
}

// List(running, queued) reads running, then queued; a batch moves
// queued → running between the two reads. It was in a requested state at
// every instant of the call, so it must be returned.
func raceListVsMover(t *testing.T, ctx context.Context, s storage.Store) {
	listVsMover(t, ctx, s, false)
}

// The same, with a Reconcile removing the row the mover left while the
// List is between its reads: List must notice and read again.
func raceListVsMoverAndReconcile(t *testing.T, ctx context.Context, s storage.Store) {
	listVsMover(t, ctx, s, true)
}

func listVsMover(t *testing.T, ctx context.Context, s storage.Store, reconcile bool) {
	e := raceEnv(t, s, batchstate.WithListRetry(3, 0))
	var listed []storage.Batch
	x := e.create(ctx, t, "x", "queued")
	e.create(ctx, t, "y", "running")
	// The read of queued, after running; through a store that reads a
	// queue in one snapshot there is one read, held before it is sent.
	_, snapshot := e.store.(storage.Snapshotter)
	call, method := 2, faultstore.ListMembers
	if snapshot {
		call, method = 1, faultstore.ListSnapshot
	}
	in, release := hold(t, e, call, method)
	list := goRun(func() error {
		var err error
		listed, err = e.faulty.List(ctx, e.queue, "running", "queued")
		return err
	})
	awaitHeld(t, in)
	_, err := e.clean.Transition(ctx, x, "running")
	require.NoError(t, err)
	if reconcile {
		rep, err := e.clean.Reconcile(ctx, e.queue)
		require.NoError(t, err)
		require.Equal(t, 1, rep.RemovedStale, "Reconcile removed x's queued row")
	}
	release()
	require.NoError(t, <-list)
	require.ElementsMatch(t, []string{"x", "y"}, BatchIDs(listed), "the mover is listed")
	if reconcile && !snapshot {
		require.GreaterOrEqual(t, e.fs.Calls(faultstore.ListMembers), 4, "List read the buckets again")
	}
	checkBatches(ctx, t, e)
}

// A caller edits b.State of a batch stored terminal and keeps the stored
// version: the move must fail, change nothing and leave no row.
func raceTransitionWithEditedState(t *testing.T, ctx context.Context, s storage.Store) {
	e := raceEnv(t, s)
	x := e.create(ctx, t, "x", "running")
	done, err := e.clean.Transition(ctx, x, "done")
	require.NoError(t, err)
	edited := done
	edited.State = "queued"
	_, err = e.faulty.Transition(ctx, edited, "running")
	require.ErrorIs(t, err, storage.ErrConflict)
	require.Equal(t, done, e.get(ctx, t, "x"), "the terminal batch did not change")
	rows, err := indexRows(ctx, e.store, CrashMachine, e.queue)
	require.NoError(t, err)
	require.Empty(t, rows["x"], "no row is left behind")
	checkBatches(ctx, t, e)
}

// A Transition with a version the batch never had fails and leaves a row
// ahead of the batch; the row must not outlive the grace, nor stay once
// the batch is terminal, and reports must count only real removals.
func raceTransitionWithVersionTooHigh(t *testing.T, ctx context.Context, s storage.Store) {
	e := raceEnv(t, s)
	x := e.create(ctx, t, "x", "queued")
	y := e.create(ctx, t, "y", "queued")
	for _, b := range []storage.Batch{x, y} {
		bad := b
		bad.Version = 100
		_, err := e.faulty.Transition(ctx, bad, "running")
		require.ErrorIs(t, err, storage.ErrConflict)
	}
	rows, err := indexRows(ctx, e.store, CrashMachine, e.queue)
	require.NoError(t, err)
	require.Equal(t, []string{"queued", "running"}, rows["x"], "the failed move left its row")

	// y ends terminal: List removes every row of it, whatever its version.
	_, err = e.clean.Transition(ctx, y, "done")
	require.NoError(t, err)
	_, err = e.clean.List(ctx, e.queue, "running")
	require.NoError(t, err)
	rows, err = indexRows(ctx, e.store, CrashMachine, e.queue)
	require.NoError(t, err)
	require.Empty(t, rows["y"])

	// x stays live: past the grace, Reconcile fences and removes the row,
	// and counts what it really removed.
	e.clock.Advance(2 * crashGrace)
	rep, err := e.clean.Reconcile(ctx, e.queue)
	require.NoError(t, err)
	require.Equal(t, batchstate.ReconcileReport{Scanned: 2, RemovedStale: 1, Fenced: 1, Kept: 1}, rep)
	rows, err = indexRows(ctx, e.store, CrashMachine, e.queue)
	require.NoError(t, err)
	require.Equal(t, []string{"queued"}, rows["x"])
	checkBatches(ctx, t, e)
}

// On a queue where nothing moves, a List costs one lease read, one
// ListMembers per state and one GetBatches (one ListSnapshot through a
// store that offers it), and writes nothing — stale rows or not.
func quietListCost(t *testing.T, ctx context.Context, s storage.Store) {
	states := []string{"queued", "running", "merging"}
	queue, err := SeedListQueue(ctx, s, 250, states)
	require.NoError(t, err)
	fs := faultstore.New(s)
	o, err := batchstate.New(fs, fs, CrashMachine, batchstate.WithLogger(testLogger(t)))
	require.NoError(t, err)
	for _, reconciled := range []bool{false, true} {
		if reconciled {
			_, err := o.Reconcile(ctx, queue)
			require.NoError(t, err)
		}
		fs.ResetCounts()
		got, err := o.List(ctx, queue, states...)
		require.NoError(t, err)
		require.Len(t, got, 250)
		require.Zero(t, fs.Writes())
		if _, ok := s.(storage.Snapshotter); ok {
			require.Equal(t, map[faultstore.Method]int{faultstore.ListSnapshot: 1}, fs.Counts(), "reconciled=%v", reconciled)
			continue
		}
		require.Equal(t, len(states)+2, fs.TotalCalls(), "reconciled=%v: %v", reconciled, fs.Counts())
		require.Equal(t, 1, fs.Calls(faultstore.GetBatches))
	}
}
