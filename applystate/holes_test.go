package applystate_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// The deterministic schedules of the holes an outside attack found in the
// write protocols (see docs/design.md, applystate). Each test forces its
// interleaving with store hooks: every actor has its own FaultStore over
// the bundle's memory store, so a call held in one actor is counted apart
// from the others' calls.

// actor is one caller — a drive loop, an operator's Stop, a sweep's
// Reproject — with its own Projector and FaultStore over b's store.
type actor struct {
	fs *storagetest.FaultStore
	p  *applystate.Projector
}

// newActor returns an actor over b's store whose clock starts at start, a
// second per reading (Projectors racing on one apply need clocks that move).
func newActor(b *bundle, start time.Time, opts ...applystate.Option) actor {
	fs := storagetest.NewFaultStore(b.store)
	c := newClock(start)
	return actor{fs: fs, p: newProjector(b.t, fs, fs, append([]applystate.Option{applystate.WithClock(c.Now)}, opts...)...)}
}

func (a actor) drive(b *bundle, id string, s S, msg ...string) func() (applystate.Result, error) {
	task := applystate.Task{OperationID: id, State: s}
	if len(msg) > 0 {
		task.ErrorMessage = msg[0]
	}
	return func() (applystate.Result, error) {
		return a.p.Drive(b.ctx, "a", []applystate.Task{task})
	}
}

// holdAt arms f on fs (its Mode is set to Block) and runs call in a
// goroutine until the call f selects is reached and held; the returned
// function releases it and waits for call's result. It fails t if call
// ends without reaching the held call.
func holdAt(t *testing.T, fs *storagetest.FaultStore, f storagetest.Fault, call func() (applystate.Result, error)) func() (applystate.Result, error) {
	t.Helper()
	release := make(chan struct{})
	f.Mode, f.Release = storagetest.Block, release
	in, err := fs.Inject(f)
	require.NoError(t, err)
	type out struct {
		r   applystate.Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		r, err := call()
		done <- out{r, err}
	}()
	select {
	case <-in.Reached():
	case o := <-done:
		close(release)
		require.Failf(t, "the held call was never reached", "result %+v, err %v", o.r, o.err)
	}
	return func() (applystate.Result, error) {
		close(release)
		o := <-done
		return o.r, o.err
	}
}

var (
	t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	t1 = time.Date(2027, 5, 6, 7, 8, 9, 0, time.UTC)
	t2 = time.Date(2028, 5, 6, 7, 8, 9, 0, time.UTC)
	t3 = time.Date(2029, 5, 6, 7, 8, 9, 0, time.UTC)
)

// Tasks that name two different operations are a caller bug: an error
// matching storage.ErrInvalid that names the first task naming another
// operation, and no store call at all (before: nil error, Undetermined for
// a terminal state, and Proceed).
func TestDriveTasksOfTwoOperationsAreInvalid(t *testing.T) {
	t.Parallel()
	for _, s := range []S{pe, ru, cp} {
		t.Run(string(s), func(t *testing.T) {
			t.Parallel()
			b := setup(t, []op{{"x", ""}, {"y", ""}})
			r, err := b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "x", State: s}, {OperationID: "x", State: s}, {OperationID: "y", State: s}})
			require.ErrorIs(t, err, storage.ErrInvalid)
			require.ErrorContains(t, err, "tasks[2].OperationID")
			require.Equal(t, applystate.Result{}, r)
			require.Zero(t, b.fs.TotalCalls(), "nothing is read or written: %v", b.fs.Counts())
			require.Equal(t, string(pe), b.apply(t).State)
		})
	}
}

// Hole 8: Stop's flag write lands but its response is lost — another error,
// or a conflict (a resent request whose first attempt landed). The flag
// write is stamped like a projection write (strictly increasing UpdatedAt)
// and read back the same way, so Stop recognizes it as its own: no error,
// Changed. Before, the plain error failed the Stop although StopRequested
// was stored, and the conflict read as someone else's stop (Changed false,
// since with both operations running nothing else is written).
func TestLostResponseOnStopFlagIsOwned(t *testing.T) {
	t.Parallel()
	for name, lost := range map[string]error{
		"error":    errLost,
		"conflict": errors.Join(errLost, storage.ErrConflict),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, []op{{"A", ""}, {"B", ""}})
			b.drive(t, "A", ru)
			b.drive(t, "B", ru)
			_, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.FailAfter, Call: 1, Err: lost, Methods: []storagetest.Method{storagetest.UpdateApply}})
			require.NoError(t, err)
			r, err := b.p.Stop(b.ctx, "a")
			require.NoError(t, err, "the flag write landed: it is this call's")
			require.True(t, r.Changed, "Stop wrote StopRequested (and nothing else: both operations run)")
			require.True(t, b.apply(t).StopRequested)
			require.Equal(t, applystate.DoNotStart, r.Next)
		})
	}
}

// Hole 1: after a lost row compare-and-swap Drive re-read the row but not
// the apply, so it forced its apply write at a version read before the row
// it then relied on. Here B's second drive loop read the apply (v) and is
// held before its claim; A's loop moves the apply on (v+1); A's
// cancellation lists B pending, computes cancelled and is held before its
// write at v+1; B's first loop claims and crashes. B's second loop loses
// its claim's compare-and-swap to the first loop's claim, finds it
// unacknowledged and projects it: before the fix its forced write went to
// v (a conflict), the next round read v+1 and, projecting running as
// stored, wrote nothing and acknowledged the claim: Proceed, and A's
// cancelled — computed without the claim — then landed at v+1.
func TestLostRowCASReReadsTheApply(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", ""}, {"B", ""}})
	b.drive(t, "A", ru)
	loop2, other, cancel, loop1 := newActor(b, t0), newActor(b, t1), newActor(b, t2), newActor(b, t3)

	resume2 := holdAt(t, loop2.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.UpdateOperation}}, loop2.drive(b, "B", pe))
	_, err := other.drive(b, "A", cs)()
	require.NoError(t, err)
	resumeCancel := holdAt(t, cancel.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.UpdateApply}}, cancel.drive(b, "A", ca))
	// The first loop claims, then crashes before reading the apply again.
	_, err = loop1.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 2, Methods: []storagetest.Method{storagetest.GetApply}})
	require.NoError(t, err)
	_, err = loop1.drive(b, "B", pe)()
	require.ErrorIs(t, err, storagetest.ErrInjected)
	require.True(t, b.op(t, "B").StartedAt.After(time.Time{}), "the first loop's claim is stored")

	r2, err := resume2()
	require.NoError(t, err)
	rc, err := resumeCancel()
	require.NoError(t, err)
	a := b.apply(t)
	t.Logf("second loop: %s on %s; cancellation: terminalized %v; apply %s", r2.Next, r2.Apply.State, rc.Terminalized, a.State)
	if r2.Next == applystate.Proceed {
		require.False(t, applystate.Normalize(a.State).Terminal(), "B was told to proceed, and the apply is %s", a.State)
	}
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// Hole 3: a pause failure's row is stored, its apply write not yet done.
// B's claim lists that failure and projects paused itself: it must give
// the claim back and wait, as it does for a halt (before: Proceed, the
// claim kept, on the apply B's own write made paused).
func TestClaimGivenBackWhenItsOwnListingPauses(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", applystate.Pause}, {"B", ""}})
	b.drive(t, "A", ru)
	fail, loop := newActor(b, t0), newActor(b, t1)
	resume := holdAt(t, fail.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.UpdateApply}}, fail.drive(b, "A", fa, "boom"))
	require.Equal(t, string(fa), b.op(t, "A").State, "the failure's row is stored")

	r, err := loop.drive(b, "B", pe)()
	require.NoError(t, err)
	require.Equal(t, applystate.Wait, r.Next, "B's own listing projects paused")
	require.True(t, b.op(t, "B").StartedAt.IsZero(), "the claim was given back")
	require.Equal(t, string(pa), b.apply(t).State)

	_, err = resume()
	require.NoError(t, err)
	require.Equal(t, string(pa), b.apply(t).State)
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// Hole 2: Reproject took its forced-write version from the apply it read
// before listing. It read v1 and is held before listing; A's loop writes
// v2 (running_degraded); B's completion lists C pending, computes failed
// and is held before its write at v2; C reports running and crashes before
// its apply write. Reproject lists B and C unacknowledged, loses its forced
// write at v1, reads v2 — running_degraded, as it projects — and, before
// the fix, wrote nothing and acknowledged both rows: B's failed, computed
// without C, then landed at v2 while C runs, and no poll repairs it.
func TestReprojectForcesAfterItsListing(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", ""}, {"B", ""}, {"C", ""}})
	b.drive(t, "B", ru)
	require.Equal(t, string(rd), b.drive(t, "A", fa, "boom").Apply.State)
	sweep, other, done, late := newActor(b, t0), newActor(b, t1), newActor(b, t2), newActor(b, t3)

	resumeSweep := holdAt(t, sweep.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.ListOperations}},
		func() (applystate.Result, error) { return sweep.p.Reproject(b.ctx, "a") })
	_, err := other.drive(b, "B", cs)()
	require.NoError(t, err)
	resumeDone := holdAt(t, done.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.UpdateApply}}, done.drive(b, "B", cp))
	// C reports running (a start it could not avoid) and crashes before
	// its projection write.
	_, err = late.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 1, Methods: []storagetest.Method{storagetest.UpdateApply}, Err: errLost})
	require.NoError(t, err)
	_, err = late.drive(b, "C", ru)()
	require.ErrorIs(t, err, errLost)

	_, err = resumeSweep()
	require.NoError(t, err)
	rd2, err := resumeDone()
	require.NoError(t, err)
	a := b.apply(t)
	t.Logf("completion: terminalized %v; apply %s; C %+v", rd2.Terminalized, a.State, b.op(t, "C"))
	require.NoError(t, explore.CheckApplyNotEarly(b.ctx, b.store, "a"))
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// Hole 4: a pending report on a start already granted — B was told Proceed,
// and its deployment still shows pending (the same loop polling again, or a
// second loop) — must not give the claim back: the started work would no
// longer hold the apply, which could settle while it runs. Before the fix
// the claim was cleared once the rollout was halted, paused or stopping
// (halted: the apply failed at once; stopping: it settled stopped). A
// granted claim stays until its deployment reports another state.
func TestGrantedClaimIsKept(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		policy applystate.Policy
		close  func(t *testing.T, b *bundle)
		apply  S
		next   applystate.Directive
	}{
		"halt": {"", func(t *testing.T, b *bundle) { b.drive(t, "A", fa, "boom") }, rd, applystate.Proceed},
		"pause": {applystate.Pause, func(t *testing.T, b *bundle) {
			b.drive(t, "A", fa, "boom")
			b.drive(t, "C", ru)
		}, pa, applystate.Proceed},
		"stop": {"", func(t *testing.T, b *bundle) {
			_, err := b.p.Stop(b.ctx, "a")
			require.NoError(t, err)
		}, ru, applystate.DoNotStart},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, []op{{"A", tc.policy}, {"B", ""}, {"C", ""}})
			b.drive(t, "A", ru)
			require.Equal(t, applystate.Proceed, b.drive(t, "B", pe).Next, "B's start is granted")
			tc.close(t, b)
			require.False(t, b.op(t, "B").StartedAt.IsZero())

			r := b.drive(t, "B", pe) // B's deployment still shows pending
			require.False(t, applystate.Normalize(b.apply(t).State).Terminal(), "the apply settled while B's work runs: %s", b.apply(t).State)
			require.False(t, b.op(t, "B").StartedAt.IsZero(), "the granted claim is kept")
			require.Equal(t, string(pe), b.op(t, "B").State)
			require.Equal(t, string(tc.apply), b.apply(t).State)
			require.Equal(t, tc.next, r.Next)
			require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))

			// B's work ends: only now may the apply settle.
			end := cp
			if name == "stop" {
				end = applystate.Stopped
			}
			b.drive(t, "B", end)
			require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
		})
	}
}

// Hole 6, a retry: CreatePlan crashed after two of its three operations;
// a retry with another operation list — one that leaves out an operation
// already stored — must fail with storage.ErrAlreadyExists naming it and
// write nothing (before: it succeeded, and the apply owned an operation
// outside the plan it returned, which never settles).
func TestCreatePlanRetriedWithAnotherListFails(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	plan := applystate.Plan{Apply: storage.Apply{ID: "r"}, Operations: []storage.Operation{{ID: "a", Seq: 1}, {ID: "b", Seq: 2}, {ID: "c", Seq: 3}}}
	_, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 3, Methods: []storagetest.Method{storagetest.CreateOperation}})
	require.NoError(t, err)
	_, _, err = b.p.CreatePlan(b.ctx, plan)
	require.ErrorIs(t, err, storagetest.ErrInjected)
	b.fs.ClearFaults()

	for name, ops := range map[string][]storage.Operation{
		"fewer":   {{ID: "a", Seq: 1}, {ID: "c", Seq: 3}},
		"another": {{ID: "a", Seq: 1}, {ID: "x", Seq: 2}, {ID: "c", Seq: 3}},
	} {
		b.fs.ResetCounts()
		_, _, err = b.p.CreatePlan(b.ctx, applystate.Plan{Apply: storage.Apply{ID: "r"}, Operations: ops})
		require.ErrorIs(t, err, storage.ErrAlreadyExists, name)
		require.ErrorContains(t, err, `"b"`, name)
		require.Zero(t, b.fs.Writes(), "%s: nothing is written: %v", name, b.fs.Counts())
		_, err = b.store.GetApply(b.ctx, "r")
		require.ErrorIs(t, err, storage.ErrNotFound, name)
	}
	// The plan it started still finishes.
	_, ops, err := b.p.CreatePlan(b.ctx, plan)
	require.NoError(t, err)
	require.Len(t, ops, 3)
}

// Hole 6, concurrent: two CreatePlans of one apply with different plans.
// The first is held before its first operation; the second runs to the
// end; then the first goes on. Exactly one succeeds, the loser fails with
// storage.ErrAlreadyExists, and the apply owns exactly the winner's
// operations (before: the second succeeded and the first's operations
// were created under its apply: merged).
func TestConcurrentCreatePlansDoNotMerge(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	first, second := newActor(b, t0), newActor(b, t1)
	planOf := func(ids ...string) applystate.Plan {
		p := applystate.Plan{Apply: storage.Apply{ID: "r"}}
		for i, id := range ids {
			p.Operations = append(p.Operations, storage.Operation{ID: id, Seq: int64(i)})
		}
		return p
	}
	p1, p2 := planOf("x", "y"), planOf("a", "b")
	var err1 error
	resume := holdAt(t, first.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.CreateOperation}}, func() (applystate.Result, error) {
		_, _, err1 = first.p.CreatePlan(b.ctx, p1)
		return applystate.Result{}, nil
	})
	_, _, err2 := second.p.CreatePlan(b.ctx, p2)
	_, _ = resume()
	t.Logf("first: %v; second: %v", err1, err2)
	require.True(t, (err1 == nil) != (err2 == nil), "exactly one CreatePlan succeeds")
	winner := p1
	loser := err2
	if err1 != nil {
		winner, loser = p2, err1
	}
	require.ErrorIs(t, loser, storage.ErrAlreadyExists)
	stored, err := b.store.ListOperations(b.ctx, "r")
	require.NoError(t, err)
	var ids []string
	for _, op := range stored {
		ids = append(ids, op.ID)
	}
	var want []string
	for _, op := range winner.Operations {
		want = append(want, op.ID)
	}
	require.ElementsMatch(t, want, ids, "the apply owns exactly the winner's operations")
}

// Hole 5: no row changes once the apply is terminal. B's drive loop holds
// a read of the open apply (A running, B stopped) and is held before a
// write — B failed after all. A's loop reports stopped: every operation
// stopped, the apply terminalizes stopped, its side effects fire as
// stopped. Then B's write went through (before the fix): the row said
// failed under an apply that settled stopped. Now a row that does not hold
// the apply open (stopped, pending) moves only after its writer bumped the
// apply at the version it read, and a terminal decision seals every such
// row it listed (rewrites it unchanged) before its write. Held before its
// first write, B's writer loses its bump to the terminal write; held
// between its bump and its row write, it loses the row to the seal.
// Either way it reads the apply terminal and writes nothing.
func TestNoRowChangesOnceTheApplyIsTerminal(t *testing.T) {
	t.Parallel()
	for name, held := range map[string]storagetest.Fault{
		"FirstWrite": {Call: 1, WritesOnly: true},
		"RowWrite":   {Call: 1, Methods: []storagetest.Method{storagetest.UpdateOperation}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, []op{{"A", ""}, {"B", ""}})
			b.drive(t, "A", ru)
			b.drive(t, "B", ru)
			b.drive(t, "B", st)
			require.Equal(t, string(ru), b.apply(t).State)
			late, other := newActor(b, t0), newActor(b, t1)

			resume := holdAt(t, late.fs, held, late.drive(b, "B", fa, "boom"))
			ra, err := other.drive(b, "A", st)()
			require.NoError(t, err)
			require.True(t, ra.Terminalized)
			require.Equal(t, string(st), ra.Apply.State)
			rb, err := resume()
			require.NoError(t, err)
			require.Equal(t, applystate.DoNotStart, rb.Next)
			require.Equal(t, string(st), b.op(t, "B").State, "a row changed after its apply settled")
			require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
		})
	}
}

// A finalizer whose group's work failed is orphaned: it can never run, so a
// pending report on it is never granted a start — neither when the
// failure's apply write landed (the apply is running_degraded, the rows
// tell) nor when only its row is stored (the claim's own listing tells).
// Before, it was claimed and told Proceed. (Found by the model check.)
func TestOrphanedFinalizerNeverStarts(t *testing.T) {
	t.Parallel()
	for _, landed := range []bool{true, false} {
		t.Run(fmt.Sprintf("failureProjected=%v", landed), func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			for i, o := range []storage.Operation{
				{ID: "W", Group: "g", OnFailure: string(applystate.Continue)},
				{ID: "F", Group: "g", Finalizer: true},
				{ID: "C"},
			} {
				o.ApplyID, o.Seq, o.State = "a", int64(i), string(pe)
				_, err := b.store.CreateOperation(b.ctx, o)
				require.NoError(t, err)
			}
			b.drive(t, "W", ru)
			b.drive(t, "C", ru)
			if landed {
				require.Equal(t, string(rd), b.drive(t, "W", fa, "boom").Apply.State)
			} else {
				fail := newActor(b, t0)
				resume := holdAt(t, fail.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.UpdateApply}}, fail.drive(b, "W", fa, "boom"))
				defer func() { _, _ = resume() }()
			}
			r := b.drive(t, "F", pe)
			require.Equal(t, applystate.DoNotStart, r.Next)
			require.True(t, b.op(t, "F").StartedAt.IsZero(), "an orphaned finalizer is never claimed")
		})
	}
}

// Hole 1 again, with no terminal write involved (so no seal or bump steps
// in): A checksumming, B waiting for its cutover, the apply checksumming
// (v1). B's first loop read the apply (v1) and is held before its report;
// A's loop writes running (v2); A's next report, waiting_for_cutover, lists
// B waiting too and computes waiting_for_cutover, held before its write at
// v2; B's second loop reports running and crashes before its apply write.
// B's first loop loses its row compare-and-swap to that report, which says
// what it says: it projects the row unacknowledged. With an
// acknowledgement version read before the winning row (v1) its forced write
// failed, the next round read v2 — running, as it projects — wrote nothing
// and acknowledged B; A's waiting_for_cutover, computed without B running,
// then landed at v2, and no poll repairs it (B is acknowledged).
func TestLostRowCASReReadsTheApplyNonTerminal(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", ""}, {"B", ""}})
	b.drive(t, "A", cs)
	b.drive(t, "B", wc)
	require.Equal(t, string(cs), b.apply(t).State)
	loop1, other, cutover, loop2 := newActor(b, t0), newActor(b, t1), newActor(b, t2), newActor(b, t3)

	resume1 := holdAt(t, loop1.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.UpdateOperation}}, loop1.drive(b, "B", ru))
	_, err := other.drive(b, "A", ru)()
	require.NoError(t, err)
	resumeCutover := holdAt(t, cutover.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.UpdateApply}}, cutover.drive(b, "A", wc))
	_, err = loop2.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 2, Methods: []storagetest.Method{storagetest.GetApply}})
	require.NoError(t, err)
	_, err = loop2.drive(b, "B", ru)()
	require.ErrorIs(t, err, storagetest.ErrInjected)

	_, err = resume1()
	require.NoError(t, err)
	_, err = resumeCutover()
	require.NoError(t, err)
	t.Logf("apply %s; B %s, acknowledged %v", b.apply(t).State, b.op(t, "B").State, b.op(t, "B").Projected)
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// Hole 2 again, with no terminal write involved (so no seal or bump steps
// in): A checksumming, B waiting for its cutover, the apply checksumming
// (v1). Reproject read v1 and is held before listing; A's loop writes
// running (v2); A's next report, waiting_for_cutover, lists B waiting and
// computes waiting_for_cutover, held before its write at v2; B reports
// running and crashes before its apply write. Reproject lists both rows
// unacknowledged and projects running; its forced write at v1 fails. Before
// the fix the next round read v2 — running, as projected — wrote nothing
// and acknowledged both rows; A's waiting_for_cutover then landed at v2.
func TestReprojectForcesAfterItsListingNonTerminal(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", ""}, {"B", ""}})
	b.drive(t, "A", cs)
	b.drive(t, "B", wc)
	require.Equal(t, string(cs), b.apply(t).State)
	sweep, other, cutover, late := newActor(b, t0), newActor(b, t1), newActor(b, t2), newActor(b, t3)

	resumeSweep := holdAt(t, sweep.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.ListOperations}},
		func() (applystate.Result, error) { return sweep.p.Reproject(b.ctx, "a") })
	_, err := other.drive(b, "A", ru)()
	require.NoError(t, err)
	resumeCutover := holdAt(t, cutover.fs, storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.UpdateApply}}, cutover.drive(b, "A", wc))
	_, err = late.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 2, Methods: []storagetest.Method{storagetest.GetApply}})
	require.NoError(t, err)
	_, err = late.drive(b, "B", ru)()
	require.ErrorIs(t, err, storagetest.ErrInjected)

	_, err = resumeSweep()
	require.NoError(t, err)
	_, err = resumeCutover()
	require.NoError(t, err)
	t.Logf("apply %s; A %s, B %s, acknowledged %v", b.apply(t).State, b.op(t, "A").State, b.op(t, "B").State, b.op(t, "B").Projected)
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// Hole 5, the writer after the seal: A's report of stopped lists every row
// stopped, seals them and is held before its terminal write. B's loop reads
// B as sealed and the apply still open, and would move B to failed. Without
// the bump before that move, the row write landed (after the seal, before
// the terminal write) and the terminal write, computed from the listing
// without it, then landed: stopped over a failed row. With the bump, B's
// writer holds before its first apply write; the terminal write lands; the
// bump then fails and B's writer reads the apply terminal.
func TestNoRowChangesAfterTheSeal(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", ""}, {"B", ""}})
	b.drive(t, "A", ru)
	b.drive(t, "B", ru)
	b.drive(t, "B", st)
	late, other := newActor(b, t0), newActor(b, t1)
	onApplyWrite := storagetest.Fault{Call: 1, Methods: []storagetest.Method{storagetest.UpdateApply}}

	resumeStop := holdAt(t, other.fs, onApplyWrite, other.drive(b, "A", st))
	resumeLate := holdAt(t, late.fs, onApplyWrite, late.drive(b, "B", fa, "boom"))
	ra, err := resumeStop()
	require.NoError(t, err)
	rb, err := resumeLate()
	require.NoError(t, err)
	t.Logf("A: %s terminalized %v; B: %s; apply %s, B %s", ra.Next, ra.Terminalized, rb.Next, b.apply(t).State, b.op(t, "B").State)
	require.Equal(t, 1, btoi(ra.Terminalized)+btoi(rb.Terminalized))
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// Hole 8, ReleasePause's flag write: clearing a PauseReleased flag an
// earlier version set lands but its response is lost; ReleasePause
// recognizes its own write (before: the plain error failed it).
func TestLostResponseOnReleasePauseFlagIsOwned(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", applystate.Pause}, {"B", ""}})
	b.drive(t, "A", ru)
	b.drive(t, "B", ru)
	a := b.apply(t)
	a.PauseReleased = true
	_, err := b.store.UpdateApply(b.ctx, a, a.Version)
	require.NoError(t, err)
	_, err = b.fs.Inject(storagetest.Fault{Mode: storagetest.FailAfter, Call: 1, Err: errLost, Methods: []storagetest.Method{storagetest.UpdateApply}})
	require.NoError(t, err)
	r, err := b.p.ReleasePause(b.ctx, "a")
	require.NoError(t, err, "the flag write landed: it is this call's")
	require.True(t, r.Changed)
	require.False(t, b.apply(t).PauseReleased)
}
