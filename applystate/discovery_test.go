package applystate_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// discoveryStart is when the discovery tests' clocks start.
var discoveryStart = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// lister is an actor with the open-applies index: its own FaultStore over
// store and a clock it can advance.
type lister struct {
	fs *storagetest.FaultStore
	c  *clock
	p  *applystate.Projector
}

func newLister(t *testing.T, store *memory.Store, opts ...applystate.Option) lister {
	fs := storagetest.NewFaultStore(store)
	c := newClock(discoveryStart)
	opts = append([]applystate.Option{applystate.WithClock(c.Now), applystate.WithLogger(slog.New(slog.DiscardHandler)), applystate.WithDiscovery(fs, "ns", 4), applystate.WithDiscoveryGrace(time.Minute)}, opts...)
	return lister{fs: fs, c: c, p: newProjector(t, fs, fs, opts...)}
}

func plan(id string, ops ...string) applystate.Plan {
	p := applystate.Plan{Apply: storage.Apply{ID: id}}
	for i, o := range ops {
		p.Operations = append(p.Operations, storage.Operation{ID: o, Seq: int64(i), Deployment: "dep-" + o})
	}
	return p
}

func ids(as []storage.Apply) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

// indexRows returns every row of the index of namespace ns over 4 shards.
func indexRows(t *testing.T, store *memory.Store) []storage.Member {
	var out []storage.Member
	for i := range 4 {
		rows, err := store.ListMembers(context.Background(), "ns:open:"+string(rune('0'+i)), "\x00statefold:open")
		require.NoError(t, err)
		out = append(out, rows...)
	}
	return out
}

func TestListOpen(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	l := newLister(t, store)
	for _, id := range []string{"r3", "r1", "r2"} {
		_, _, err := l.p.CreatePlan(ctx, plan(id, "x", "y"))
		require.NoError(t, err)
	}
	open, err := l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"r1", "r2", "r3"}, ids(open), "every created apply, by id")
	require.Len(t, indexRows(t, store), 3, "one row per apply, the plan locks unlisted")

	for _, op := range []string{"x", "y"} {
		_, err := l.p.Drive(ctx, "r2", []applystate.Task{{OperationID: op, State: applystate.Completed}})
		require.NoError(t, err)
	}
	require.Len(t, indexRows(t, store), 2, "the terminalizing call removed r2's row")
	_, err = l.p.Stop(ctx, "r3")
	require.NoError(t, err)
	open, err = l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"r1"}, ids(open))

	// A CreatePlan retry of a complete, open plan files it again.
	require.NoError(t, store.RemoveMember(ctx, indexRows(t, store)[0].Queue, "\x00statefold:open", "r1", 9))
	_, _, err = l.p.CreatePlan(ctx, plan("r1", "x", "y"))
	require.NoError(t, err)
	open, err = l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"r1"}, ids(open))
}

func TestListOpenRemovesStaleRows(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	l := newLister(t, store)
	_, _, err := l.p.CreatePlan(ctx, plan("done", "x"))
	require.NoError(t, err)
	// The terminalizing call's removal fails: the row stays, stale.
	_, err = l.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 1, Methods: []storagetest.Method{storagetest.RemoveMember}})
	require.NoError(t, err)
	r, err := l.p.Drive(ctx, "done", []applystate.Task{{OperationID: "x", State: applystate.Failed}})
	require.NoError(t, err)
	require.True(t, r.Terminalized)
	// A CreatePlan that crashed before its apply leaves a row of no apply.
	_, err = l.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 2, Methods: []storagetest.Method{storagetest.CreateApply}, Err: errors.New("crash")})
	require.NoError(t, err)
	_, _, err = l.p.CreatePlan(ctx, plan("crashed", "x"))
	require.Error(t, err)
	require.Len(t, indexRows(t, store), 2)

	open, err := l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Empty(t, open, "a terminal apply is never returned")
	require.Len(t, indexRows(t, store), 1, "the terminal apply's row went, the missing one's stays within the grace")
	l.c.Advance(2 * time.Minute)
	open, err = l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Empty(t, open)
	require.Empty(t, indexRows(t, store), "past the grace, the row of no apply went too")
}

func TestListOpenWithoutDiscovery(t *testing.T) {
	store := memory.New()
	p := newProjector(t, store, store)
	_, err := p.ListOpen(context.Background())
	require.ErrorIs(t, err, storage.ErrInvalid)
	_, err = p.Sweep(context.Background())
	require.ErrorIs(t, err, storage.ErrInvalid)
}

// holdErr runs call in a goroutine until the store call f selects is reached
// and held on fs; the returned function releases it and returns call's
// error.
func holdErr(t *testing.T, fs *storagetest.FaultStore, f storagetest.Fault, call func() error) func() error {
	t.Helper()
	resume := holdAt(t, fs, f, func() (applystate.Result, error) { return applystate.Result{}, call() })
	return func() error { _, err := resume(); return err }
}

// A ListOpen that runs while a CreatePlan is between its index row and
// its apply write does not list the apply nor drop its row; once the
// CreatePlan returned, the apply is listed.
func TestListOpenDuringCreatePlan(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	creator, l := newLister(t, store), newLister(t, store)
	resume := holdErr(t, creator.fs, storagetest.Fault{Call: 2, Methods: []storagetest.Method{storagetest.CreateApply}},
		func() error { _, _, err := creator.p.CreatePlan(ctx, plan("new", "x")); return err })
	open, err := l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Empty(t, open, "no apply yet")
	require.Len(t, indexRows(t, store), 1, "the row of a create in flight stays")
	require.NoError(t, resume())
	open, err = l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"new"}, ids(open))
}

// A CreatePlan held past the grace between its index row and its apply
// write loses the row to a ListOpen, and files the apply again once it
// exists: listed once CreatePlan returned.
func TestCreatePlanPausedPastTheGrace(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	creator, l := newLister(t, store), newLister(t, store)
	resume := holdErr(t, creator.fs, storagetest.Fault{Call: 2, Methods: []storagetest.Method{storagetest.CreateApply}},
		func() error { _, _, err := creator.p.CreatePlan(ctx, plan("slow", "x")); return err })
	l.c.Advance(2 * time.Minute)
	open, err := l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Empty(t, open)
	require.Empty(t, indexRows(t, store), "past the grace, the row of no apply went")
	require.NoError(t, resume())
	open, err = l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"slow"}, ids(open))
}

// A ListOpen's removal of a crashed CreatePlan's row, held until a retry
// of that CreatePlan returned, removes nothing: it is conditioned on the
// planned version, and the retry filed the created apply above it.
func TestStaleRemovalRacingCreatePlanRetry(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	creator, l := newLister(t, store), newLister(t, store)
	_, err := creator.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 2, Methods: []storagetest.Method{storagetest.CreateApply}, Err: errors.New("crash")})
	require.NoError(t, err)
	_, _, err = creator.p.CreatePlan(ctx, plan("retried", "x"))
	require.Error(t, err)
	l.c.Advance(2 * time.Minute)
	var listed []storage.Apply
	resume := holdErr(t, l.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.RemoveMember}},
		func() error { var err error; listed, err = l.p.ListOpen(ctx); return err })
	_, _, err = creator.p.CreatePlan(ctx, plan("retried", "x"))
	require.NoError(t, err)
	require.NoError(t, resume())
	require.Empty(t, listed, "the held ListOpen read no apply")
	rows := indexRows(t, store)
	require.Len(t, rows, 1, "the retry's row survived the removal")
	require.Equal(t, int64(2), rows[0].Version)
	open, err := l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"retried"}, ids(open))
}

// sweepSetup creates two open applies through a Projector with the index,
// "owned" with operation "x" acquired by "loop-1" for a minute, and
// "plain".
func sweepSetup(t *testing.T) (*memory.Store, lister) {
	ctx, store := context.Background(), memory.New()
	l := newLister(t, store)
	for _, id := range []string{"owned", "plain"} {
		_, _, err := l.p.CreatePlan(ctx, plan(id, "x", "y"))
		require.NoError(t, err)
	}
	_, err := l.p.Acquire(ctx, "owned", "x", "loop-1", time.Minute)
	require.NoError(t, err)
	return store, l
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	store, l := sweepSetup(t)
	rep, err := l.p.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, applystate.SweepReport{Open: 2}, rep, "fresh applies: nothing to do")

	// A crash between an operation write and the apply write: the row
	// settled, the apply not projected over it.
	for _, id := range []string{"x", "y"} {
		row, err := store.GetOperation(ctx, "plain", id)
		require.NoError(t, err)
		row.State, row.StartedAt, row.CompletedAt = "completed", discoveryStart, discoveryStart
		_, err = store.UpdateOperation(ctx, row, row.Version)
		require.NoError(t, err)
	}
	l.c.Advance(2 * time.Hour)
	var handed []applystate.Orphan
	rep, err = l.p.Sweep(ctx, applystate.WithHandoff(func(_ context.Context, o applystate.Orphan) error {
		handed = append(handed, o)
		return nil
	}))
	require.NoError(t, err)
	require.Equal(t, 2, rep.Open)
	require.Equal(t, 2, rep.Reprojected)
	require.Equal(t, 1, rep.Terminalized, "the sweep repaired the crashed apply")
	require.Len(t, rep.Stuck, 2, "both pending for two hours")
	require.Len(t, rep.Orphans, 1)
	require.Equal(t, "loop-1", rep.Orphans[0].Owner)
	require.Equal(t, rep.Orphans, handed)
	require.Equal(t, 1, rep.HandedOff)
	open, err := l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"owned"}, ids(open), "the terminalized apply left the index")
}

// Two sweeps at once: one held at its apply write while the other runs
// whole. Both succeed and exactly one terminalizes the repaired apply.
func TestConcurrentSweeps(t *testing.T) {
	ctx := context.Background()
	store, l := sweepSetup(t)
	row, err := store.GetOperation(ctx, "plain", "x")
	require.NoError(t, err)
	row.State, row.StartedAt, row.CompletedAt = "failed", discoveryStart, discoveryStart
	_, err = store.UpdateOperation(ctx, row, row.Version)
	require.NoError(t, err)
	other := newLister(t, store)
	l.c.Advance(time.Hour)
	other.c.Advance(time.Hour)
	var held applystate.SweepReport
	resume := holdErr(t, l.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.UpdateApply}},
		func() error { var err error; held, err = l.p.Sweep(ctx); return err })
	rep, err := other.p.Sweep(ctx)
	require.NoError(t, err)
	require.NoError(t, resume())
	require.Equal(t, 1, held.Terminalized+rep.Terminalized)
	a, err := store.GetApply(ctx, "plain")
	require.NoError(t, err)
	require.Equal(t, "failed", a.State)
}

func TestSweepErrors(t *testing.T) {
	ctx := context.Background()
	_, l := sweepSetup(t)
	l.c.Advance(time.Hour)
	boom := errors.New("no loop free")
	rep, err := l.p.Sweep(ctx, applystate.WithHandoff(func(context.Context, applystate.Orphan) error { return boom }))
	require.ErrorIs(t, err, boom)
	require.Equal(t, 2, rep.Reprojected, "an error does not stop the sweep")
	require.Zero(t, rep.HandedOff)
	_, err = l.p.Sweep(ctx, applystate.WithIdleAfter(0))
	require.ErrorIs(t, err, storage.ErrInvalid)
}

func TestRunSweeper(t *testing.T) {
	_, l := sweepSetup(t)
	ctx, cancel := context.WithCancel(context.Background())
	var sweeps atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- l.p.RunSweeper(ctx, time.Millisecond, applystate.WithSweepReport(func(r applystate.SweepReport, err error) {
			if err == nil && r.Open == 2 && sweeps.Add(1) == 3 {
				cancel()
			}
		}))
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("RunSweeper did not return once its context ended")
	}
	require.GreaterOrEqual(t, sweeps.Load(), int32(3))
	require.ErrorIs(t, l.p.RunSweeper(context.Background(), 0), storage.ErrInvalid)
}
