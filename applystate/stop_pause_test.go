package applystate_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// A routine poll never undoes Stop: B never started and was stopped, its
// drive loop goes on reporting pending, and B stays stopped. Once A
// completes the apply settles stopped, and Reproject keeps it there.
func TestRoutinePollNeverUndoesStop(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", ""}, {"B", ""}})
	b.drive(t, "A", ru)
	r, err := b.p.Stop(b.ctx, "a")
	require.NoError(t, err)
	require.True(t, r.Apply.StopRequested)
	require.Equal(t, string(ru), r.Apply.State, "A is in flight")
	require.Equal(t, string(st), b.op(t, "B").State)

	for range 3 {
		r = b.drive(t, "B", pe) // B's drive loop polls as usual
		require.Equal(t, string(ru), r.Apply.State)
		require.Equal(t, string(st), b.op(t, "B").State, "a stopped operation never returns to pending")
	}
	r = b.drive(t, "A", cp)
	require.True(t, r.Terminalized)
	for range 3 {
		_, err := b.p.Reproject(b.ctx, "a")
		require.NoError(t, err)
	}
	a := b.apply(t)
	require.Equal(t, string(st), a.State)
	require.True(t, a.StopRequested)
	require.Equal(t, string(st), b.op(t, "B").State)
	require.True(t, b.op(t, "B").StartedAt.IsZero(), "B never started")
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// interruptedStop returns a rollout with A running and B pending, and a
// Stop that failed after it recorded StopRequested, before it moved B.
func interruptedStop(t *testing.T) *bundle {
	t.Helper()
	b := setup(t, []op{{"A", ""}, {"B", ""}})
	b.drive(t, "A", ru)
	_, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 1, Methods: []storagetest.Method{storagetest.UpdateOperation}})
	require.NoError(t, err)
	_, err = b.p.Stop(b.ctx, "a")
	require.ErrorIs(t, err, storagetest.ErrInjected)
	b.fs.ClearFaults()
	require.True(t, b.apply(t).StopRequested)
	require.Equal(t, string(pe), b.op(t, "B").State)
	return b
}

// A Stop interrupted after it recorded StopRequested but before it moved
// the pending operations to stopped is finished by calling Stop again: the
// apply settles and no operation is left pending.
func TestStopRetriedAfterAnError(t *testing.T) {
	t.Parallel()
	b := interruptedStop(t)
	_, err := b.p.Stop(b.ctx, "a")
	require.NoError(t, err)
	require.Equal(t, string(st), b.op(t, "B").State)
	b.drive(t, "B", pe)
	require.True(t, b.drive(t, "A", cp).Terminalized)
	require.Equal(t, string(st), b.apply(t).State)
	require.Equal(t, string(st), b.op(t, "B").State)
}

// Reproject finishes a Stop interrupted after it recorded StopRequested:
// B, left pending, is stopped, and once A completes the apply settles
// stopped instead of staying running with a pending operation.
func TestReprojectFinishesAnInterruptedStop(t *testing.T) {
	t.Parallel()
	b := interruptedStop(t)

	b.drive(t, "B", pe) // B's drive loop polls as usual
	b.drive(t, "A", cp)
	for range 3 {
		_, err := b.p.Reproject(b.ctx, "a")
		require.NoError(t, err)
	}
	require.Equal(t, string(st), b.apply(t).State)
	require.Equal(t, string(st), b.op(t, "B").State)
	require.True(t, b.op(t, "B").StartedAt.IsZero(), "B never started")
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// The rollout rules for a requested stop over failed work: a stopped
// child, started or not, no longer holds its target.
func TestRolloutStopOverFailure(t *testing.T) {
	t.Parallel()
	stop := applystate.Flags{StopRequested: true}
	stopRan := applystate.Child{State: st, Started: true}
	failed := func(p applystate.Policy) applystate.Child {
		return applystate.Child{State: fa, OnFailure: p, Started: true}
	}
	for _, c := range []struct {
		name     string
		children []applystate.Child
		flags    applystate.Flags
		want     S
	}{
		{"halt, started stopped sibling, stop requested", []applystate.Child{failed(applystate.Halt), stopRan}, stop, fa},
		{"halt, started stopped sibling", []applystate.Child{failed(applystate.Halt), stopRan}, applystate.Flags{}, rd},
		{"continue, started stopped sibling, stop requested", []applystate.Child{failed(applystate.Continue), stopRan}, stop, fa},
		{"pause, later started stopped sibling, stop requested", []applystate.Child{failed(applystate.Pause), stopRan}, stop, fa},
		{"halt, running sibling, stop requested", []applystate.Child{failed(applystate.Halt), {State: ru, Started: true}}, stop, rd},
		{"completed, started stopped sibling, stop requested", []applystate.Child{{State: cp, Started: true}, stopRan}, stop, st},
	} {
		require.Equal(t, c.want, applystate.Rollout(c.children, c.flags), c.name)
	}
}

// A stop requested over failed work settles the apply once nothing holds
// its target: A failed while B ran, the operator stops, B's drive loop
// reports stopped, and the apply is failed (a failure happened) with
// StopRequested recorded — whatever A's policy.
func TestStopAfterFailureSettles(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		policy      applystate.Policy
		beforeStop  S
		afterFailed S
	}{
		{applystate.Halt, rd, rd},
		{applystate.Continue, rd, rd},
		{applystate.Pause, pa, pa},
	} {
		t.Run(string(c.policy), func(t *testing.T) {
			t.Parallel()
			var terminalized int
			b := setup(t, []op{{"A", c.policy}, {"B", ""}, {"C", ""}},
				applystate.WithObserver(func(_ context.Context, r applystate.Result) {
					if r.Terminalized {
						terminalized++
					}
				}))
			b.drive(t, "B", ru)
			require.Equal(t, string(c.beforeStop), b.drive(t, "A", fa, "boom").Apply.State)

			r, err := b.p.Stop(b.ctx, "a")
			require.NoError(t, err)
			require.Equal(t, string(c.afterFailed), r.Apply.State, "B still holds its target")
			require.Equal(t, string(st), b.op(t, "C").State)

			r = b.drive(t, "B", st)
			require.Equal(t, string(fa), r.Apply.State)
			require.True(t, r.Terminalized)
			require.True(t, r.Apply.StopRequested)
			require.False(t, r.Apply.CompletedAt.IsZero())
			require.Equal(t, "deployment dep-A failed: boom", r.Apply.ErrorMessage)
			for range 3 {
				r, err = b.p.Reproject(b.ctx, "a")
				require.NoError(t, err)
				require.False(t, r.Changed)
			}
			require.Equal(t, 1, terminalized)
			require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
		})
	}
}

// Without a stop request a started operation that reports stopped still
// holds its target after a halt failure: it may be resumed.
func TestStoppedWithoutStopRequestStillHolds(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", ""}, {"B", ""}})
	b.drive(t, "B", ru)
	b.drive(t, "A", fa, "boom")
	require.Equal(t, string(rd), b.drive(t, "B", st).Apply.State)
}

// A release applies to the failures it released: after A's pause is
// released, B (pause) fails while C is pending and the rollout pauses
// again; a second release lets it go on.
func TestReleaseAppliesToTheFailuresItReleased(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", applystate.Pause}, {"B", applystate.Pause}, {"C", ""}})
	require.Equal(t, string(pa), b.drive(t, "A", fa, "canary 5xx").Apply.State)
	r, err := b.p.ReleasePause(b.ctx, "a")
	require.NoError(t, err)
	require.True(t, r.Changed)
	require.Equal(t, string(rd), r.Apply.State)

	b.drive(t, "B", ru)
	r = b.drive(t, "B", fa, "second 5xx")
	require.Equal(t, string(pa), r.Apply.State, "a later failure under pause holds again")
	requireReleased(t, b.op(t, "A"), true, "the released failure")
	requireReleased(t, b.op(t, "B"), false, "the later failure")
	for range 2 {
		r, err = b.p.Reproject(b.ctx, "a")
		require.NoError(t, err)
		require.Equal(t, string(pa), r.Apply.State)
	}

	r, err = b.p.ReleasePause(b.ctx, "a")
	require.NoError(t, err)
	require.Equal(t, string(rd), r.Apply.State)
	// Releasing again releases nothing new and writes nothing.
	b.fs.ResetCounts()
	r, err = b.p.ReleasePause(b.ctx, "a")
	require.NoError(t, err)
	require.False(t, r.Changed)
	require.Zero(t, b.fs.Writes(), "calls %v", b.fs.Counts())

	b.drive(t, "C", ru)
	r = b.drive(t, "C", cp)
	require.True(t, r.Terminalized)
	require.Equal(t, string(fa), r.Apply.State)
	require.Equal(t, "deployment dep-A failed: canary 5xx", r.Apply.ErrorMessage)
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// A release releases only the failures it saw: B fails while the release
// is under way (after it listed the operations), so B's pause still holds.
func TestReleaseMissesAConcurrentFailure(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", applystate.Pause}, {"B", applystate.Pause}, {"C", ""}})
	b.drive(t, "A", fa, "first")
	b.drive(t, "B", ru)
	release := make(chan struct{})
	in, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.Block, Call: 1, Release: release,
		Methods: []storagetest.Method{storagetest.UpdateOperation}})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := b.p.ReleasePause(b.ctx, "a")
		done <- err
	}()
	select {
	case <-in.Reached(): // the release listed A failed and B running
	case err := <-done:
		close(release)
		require.Failf(t, "the release wrote no operation row", "err %v", err)
	}
	b.drive(t, "B", fa, "second")
	close(release)
	require.NoError(t, <-done)
	requireReleased(t, b.op(t, "A"), true, "the failure the release saw")
	requireReleased(t, b.op(t, "B"), false, "the failure the release missed")
	require.Equal(t, string(pa), b.apply(t).State)
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// An apply whose pause was released by an earlier version (PauseReleased
// set) keeps every failure released until ReleasePause records the
// released failures on their rows and clears the flag; a later failure
// under pause then holds again.
func TestReleasePauseMigratesTheApplyFlag(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", applystate.Pause}, {"B", applystate.Pause}, {"C", ""}})
	b.drive(t, "A", fa, "first")
	a := b.apply(t)
	a.PauseReleased = true
	_, err := b.store.UpdateApply(b.ctx, a, a.Version)
	require.NoError(t, err)
	r, err := b.p.Reproject(b.ctx, "a")
	require.NoError(t, err)
	require.Equal(t, string(rd), r.Apply.State, "the stored flag releases every pause")

	r, err = b.p.ReleasePause(b.ctx, "a")
	require.NoError(t, err)
	require.False(t, r.Apply.PauseReleased)
	require.Equal(t, string(rd), r.Apply.State)
	requireReleased(t, b.op(t, "A"), true, "the failure the flag covered")

	b.drive(t, "B", ru)
	require.Equal(t, string(pa), b.drive(t, "B", fa, "second").Apply.State)
}

// ReleasePause on a terminal apply changes nothing; on an apply without a
// failed pause operation it writes nothing.
func TestReleasePauseWithoutPausedFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", applystate.Pause}, {"B", ""}})
	b.drive(t, "A", ru)
	_, err := b.p.Reproject(b.ctx, "a") // acknowledges B's row, never projected yet
	require.NoError(t, err)
	b.fs.ResetCounts()
	r, err := b.p.ReleasePause(b.ctx, "a")
	require.NoError(t, err)
	require.False(t, r.Changed)
	require.Zero(t, b.fs.Writes(), "calls %v", b.fs.Counts())

	b.drive(t, "B", cp)
	b.drive(t, "A", fa)
	require.Equal(t, string(fa), b.apply(t).State)
	b.fs.ResetCounts()
	r, err = b.p.ReleasePause(b.ctx, "a")
	require.NoError(t, err)
	require.False(t, r.Changed)
	require.Zero(t, b.fs.Writes())
	require.Equal(t, string(applystate.Pause), b.op(t, "A").OnFailure)
}

// A Stop racing a terminal decision: A (halt) fails while a Stop that read
// the apply open is about to list the operations. The apply ends failed,
// terminalized once and never rewritten; B, pending and never claimed,
// ends pending or stopped, never started.
func TestStopRacingATerminalDecision(t *testing.T) {
	t.Parallel()
	var terminalized atomic.Int32
	b := setup(t, []op{{"A", applystate.Halt}, {"B", ""}}, applystate.WithObserver(func(_ context.Context, r applystate.Result) {
		if r.Terminalized {
			terminalized.Add(1)
		}
	}))
	b.drive(t, "A", ru)
	resume := hold(t, b, storagetest.ListOperations, 1, func() (applystate.Result, error) { return b.p.Stop(b.ctx, "a") })
	r := b.drive(t, "A", fa, "boom")
	require.Equal(t, string(fa), r.Apply.State)
	_, err := resume()
	require.NoError(t, err)
	require.Equal(t, string(fa), b.apply(t).State, "the terminal apply is not rewritten")
	require.Equal(t, int32(1), terminalized.Load())
	bOp := b.op(t, "B")
	require.Contains(t, []string{string(pe), string(st)}, bOp.State)
	require.True(t, bOp.StartedAt.IsZero(), "B never started")
	require.NoError(t, explore.CheckApplyNotEarly(b.ctx, b.store, "a"))
}

// requireReleased requires op to keep the pause policy its plan declared,
// with its release recorded (ReleasedAt set) or not.
func requireReleased(t *testing.T, op storage.Operation, want bool, what string) {
	t.Helper()
	require.Equal(t, string(applystate.Pause), op.OnFailure, "%s: the declared policy stays on the row", what)
	require.Equal(t, want, !op.ReleasedAt.IsZero(), "%s: released (ReleasedAt %v)", what, op.ReleasedAt)
}

// ReleasePause records the release beside the declared policy: the failed
// row keeps OnFailure pause and gets ReleasedAt (the projector's clock);
// its state, error message and times stay, and the rollout goes on as if
// the policy were continue. Releasing again writes nothing.
func TestReleasePauseKeepsThePolicyAndRecordsTheRelease(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	b := setup(t, []op{{"A", applystate.Pause}, {"B", ""}}, applystate.WithClock(func() time.Time { return at }))
	require.Equal(t, string(pa), b.drive(t, "A", fa, "canary 5xx").Apply.State)
	before := b.op(t, "A")
	require.True(t, before.ReleasedAt.IsZero())

	at = at.Add(time.Hour)
	r, err := b.p.ReleasePause(b.ctx, "a")
	require.NoError(t, err)
	require.True(t, r.Changed)
	require.Equal(t, string(rd), r.Apply.State, "a released pause counts as continue")
	after := b.op(t, "A")
	requireReleased(t, after, true, "the released failure")
	require.Equal(t, at, after.ReleasedAt, "ReleasedAt is the projector's clock")
	require.Equal(t, before.State, after.State)
	require.Equal(t, before.ErrorMessage, after.ErrorMessage)
	require.Equal(t, before.StartedAt, after.StartedAt)
	require.Equal(t, before.CompletedAt, after.CompletedAt)
	require.True(t, after.Projected, "the release's reprojection acknowledged the row")
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))

	b.fs.ResetCounts()
	r, err = b.p.ReleasePause(b.ctx, "a")
	require.NoError(t, err)
	require.False(t, r.Changed)
	require.Zero(t, b.fs.Writes(), "a released failure is not released again; calls %v", b.fs.Counts())
	require.Equal(t, after, b.op(t, "A"))

	b.drive(t, "B", ru)
	r = b.drive(t, "B", cp)
	require.True(t, r.Terminalized)
	require.Equal(t, string(fa), r.Apply.State)
	require.Equal(t, "deployment dep-A failed: canary 5xx", r.Apply.ErrorMessage)
}

// A row released by an earlier version (its OnFailure rewritten to
// continue, no ReleasedAt) projects as it did: released. ReleasePause
// finds nothing to release there, and a later failure under pause still
// holds the rollout.
func TestRowReleasedByAnEarlierVersionStillProjectsReleased(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", applystate.Pause}, {"B", applystate.Pause}, {"C", ""}})
	require.Equal(t, string(pa), b.drive(t, "A", fa, "first").Apply.State)
	a := b.op(t, "A")
	a.OnFailure = string(applystate.Continue) // what ReleasePause wrote before
	_, err := b.store.UpdateOperation(b.ctx, a, a.Version)
	require.NoError(t, err)
	r, err := b.p.Reproject(b.ctx, "a")
	require.NoError(t, err)
	require.Equal(t, string(rd), r.Apply.State)

	b.fs.ResetCounts()
	r, err = b.p.ReleasePause(b.ctx, "a")
	require.NoError(t, err)
	require.False(t, r.Changed)
	require.Zero(t, b.fs.Writes(), "calls %v", b.fs.Counts())
	require.Equal(t, string(applystate.Continue), b.op(t, "A").OnFailure)
	require.True(t, b.op(t, "A").ReleasedAt.IsZero())

	b.drive(t, "B", ru)
	require.Equal(t, string(pa), b.drive(t, "B", fa, "second").Apply.State, "a later failure under pause holds")
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// Children reads a released pause (ReleasedAt set, OnFailure pause) and a
// row an earlier version released (OnFailure continue) as Continue, and an
// unreleased pause failure as Pause; Rollout then holds only on the latter.
func TestChildrenReadsAReleasedPauseAsContinue(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ops := []storage.Operation{
		{ID: "released", Seq: 1, State: "failed", OnFailure: "pause", StartedAt: at, ReleasedAt: at},
		{ID: "rewritten", Seq: 2, State: "failed", OnFailure: "continue", StartedAt: at},
		{ID: "held", Seq: 3, State: "failed", OnFailure: "pause", StartedAt: at},
		{ID: "later", Seq: 4, State: "pending"},
	}
	cs := applystate.Children(ops)
	require.Equal(t, []applystate.Policy{applystate.Continue, applystate.Continue, applystate.Pause, applystate.Halt},
		[]applystate.Policy{cs[0].OnFailure, cs[1].OnFailure, cs[2].OnFailure, cs[3].OnFailure})
	require.Equal(t, pa, applystate.Rollout(cs, applystate.Flags{}), "the unreleased pause holds")
	require.Equal(t, rd, applystate.Rollout(applystate.Children([]storage.Operation{ops[0], ops[1], ops[3]}), applystate.Flags{}),
		"released failures do not hold")
	ops[2].ReleasedAt = at
	require.Equal(t, rd, applystate.Rollout(applystate.Children(ops), applystate.Flags{}))
}
