package applystate_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// hold blocks the k-th next call of m on b's store and runs call in a
// goroutine until that call is reached; it returns a function that releases
// the call and waits for the result. It fails t if call ends without
// reaching the held call.
func hold(t *testing.T, b *bundle, m storagetest.Method, k int, call func() (applystate.Result, error)) func() (applystate.Result, error) {
	t.Helper()
	release := make(chan struct{})
	in, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.Block, Call: k, Release: release, Methods: []storagetest.Method{m}})
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

func (b *bundle) driveAsync(id string, s S, msg string) func() (applystate.Result, error) {
	return func() (applystate.Result, error) {
		return b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: id, State: s, ErrorMessage: msg}})
	}
}

// Terminal while a sibling starts: A fails under halt and its Drive has
// listed B pending (it computed failed) when B's drive loop reports B
// running. B's write goes through the apply's compare-and-swap, so A's
// terminal write cannot land over it: the apply stays running_degraded
// until B settles, and exactly one caller terminalizes.
func TestTerminalCannotMissAStart(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", ""}, {"B", ""}})
	b.drive(t, "A", ru)
	resume := hold(t, b, storagetest.UpdateApply, 1, b.driveAsync("A", fa, "boom"))
	rb := b.drive(t, "B", ru)
	require.Equal(t, string(rd), rb.Apply.State)
	require.Equal(t, applystate.Proceed, rb.Next)
	ra, err := resume()
	require.NoError(t, err)
	require.False(t, ra.Terminalized, "A's write was computed from a listing without B's start")
	require.Equal(t, string(rd), b.apply(t).State)
	require.NoError(t, explore.CheckApplyNotEarly(b.ctx, b.store, "a"))
	rb = b.drive(t, "B", cp)
	require.True(t, rb.Terminalized)
	require.Equal(t, string(fa), rb.Apply.State)
}

// A start claimed while a halting failure is being projected: whichever
// of the two reads the other, B never gets Proceed once the rollout halted,
// and the apply ends failed with B pending, terminalized exactly once.
func TestClaimRacingAHalt(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", ""}, {"B", ""}})
	b.drive(t, "A", ru)
	resume := hold(t, b, storagetest.UpdateApply, 1, b.driveAsync("A", fa, "boom"))
	rb := b.drive(t, "B", pe)
	require.Equal(t, applystate.DoNotStart, rb.Next, "B's claim read A's halting failure")
	require.Equal(t, string(pe), b.op(t, "B").State)
	require.True(t, b.op(t, "B").StartedAt.IsZero(), "the claim was given back")
	ra, err := resume()
	require.NoError(t, err)
	require.Equal(t, 1, btoi(ra.Terminalized)+btoi(rb.Terminalized), "exactly one caller terminalizes")
	require.Equal(t, string(fa), b.apply(t).State)
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// A claim and a Stop: B has claimed its start but not yet read the apply
// when the operator stops. Stop leaves the claimed row to B's drive loop,
// and B, reading the stop, gives the claim back as stopped: B never gets
// Proceed, and the apply settles stopped.
func TestClaimRacingStop(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", ""}, {"B", ""}})
	// B's Drive reads its row and the apply, claims, then reads the
	// apply again: hold that second read.
	resume := hold(t, b, storagetest.GetApply, 2, b.driveAsync("B", pe, ""))
	require.False(t, b.op(t, "B").StartedAt.IsZero(), "B claimed its start")
	rs, err := b.p.Stop(b.ctx, "a")
	require.NoError(t, err)
	require.False(t, applystate.Normalize(rs.Apply.State).Terminal(), "the claim holds the apply")
	require.Equal(t, string(applystate.Stopped), b.op(t, "A").State)
	rb, err := resume()
	require.NoError(t, err)
	require.Equal(t, applystate.DoNotStart, rb.Next)
	require.Equal(t, string(applystate.Stopped), b.op(t, "B").State)
	require.Equal(t, string(applystate.Stopped), b.apply(t).State)
	require.True(t, rb.Terminalized)
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// A start granted before the stop: B got Proceed, so the stop leaves it to
// B's drive loop and the apply waits for B, which is told not to go on and
// reports stopped.
func TestStopAfterAGrantedStart(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", ""}, {"B", ""}})
	require.Equal(t, applystate.Proceed, b.drive(t, "B", pe).Next)
	rs, err := b.p.Stop(b.ctx, "a")
	require.NoError(t, err)
	require.Equal(t, string(ru), rs.Apply.State, "B's granted claim holds the apply")
	require.Equal(t, applystate.DoNotStart, rs.Next)
	r := b.drive(t, "B", ru)
	require.Equal(t, applystate.DoNotStart, r.Next, "a stop was requested")
	require.Equal(t, string(ru), r.Apply.State)
	r = b.drive(t, "B", applystate.Stopped)
	require.True(t, r.Terminalized)
	require.Equal(t, string(applystate.Stopped), r.Apply.State)
}

// Drive's directive: proceed on an open rollout, wait while it is paused,
// do not start once it is halted, stopped or terminal — and the refusals
// claim nothing.
func TestDriveDirective(t *testing.T) {
	t.Parallel()
	t.Run("Proceed", func(t *testing.T) {
		b := setup(t, []op{{"A", ""}, {"B", ""}})
		r := b.drive(t, "A", pe)
		require.Equal(t, applystate.Proceed, r.Next)
		require.Equal(t, string(ru), r.Apply.State, "a claimed start counts as running")
		require.False(t, b.op(t, "A").StartedAt.IsZero())
		require.Equal(t, applystate.Proceed, b.drive(t, "A", pe).Next, "asking again is answered the same")
		require.Equal(t, applystate.Proceed, b.drive(t, "A", ru).Next)
		require.Equal(t, applystate.DoNotStart, b.drive(t, "A", cp).Next, "its work is over")
	})
	t.Run("WaitWhilePaused", func(t *testing.T) {
		b := setup(t, []op{{"A", applystate.Pause}, {"B", ""}})
		require.Equal(t, string(pa), b.drive(t, "A", fa, "boom").Apply.State)
		b.fs.ResetCounts()
		r := b.drive(t, "B", pe)
		require.Equal(t, applystate.Wait, r.Next)
		require.True(t, b.op(t, "B").StartedAt.IsZero(), "no claim while paused")
		_, err := b.p.ReleasePause(b.ctx, "a")
		require.NoError(t, err)
		require.Equal(t, applystate.Proceed, b.drive(t, "B", pe).Next)
	})
	t.Run("DoNotStartOnceHalted", func(t *testing.T) {
		b := setup(t, []op{{"A", ""}, {"B", ""}, {"C", ""}})
		b.drive(t, "A", ru)
		require.Equal(t, string(rd), b.drive(t, "B", fa, "boom").Apply.State)
		r := b.drive(t, "C", pe)
		require.Equal(t, applystate.DoNotStart, r.Next)
		require.True(t, b.op(t, "C").StartedAt.IsZero(), "a halted rollout claims nothing")
		b.fs.ResetCounts()
		require.Equal(t, applystate.DoNotStart, b.drive(t, "C", pe).Next)
		require.Zero(t, b.fs.Writes(), "asking again writes nothing: %v", b.fs.Counts())
	})
	t.Run("DoNotStartOnceStopped", func(t *testing.T) {
		b := setup(t, []op{{"A", ""}, {"B", ""}})
		b.drive(t, "A", ru)
		_, err := b.p.Stop(b.ctx, "a")
		require.NoError(t, err)
		r := b.drive(t, "B", pe)
		require.Equal(t, applystate.DoNotStart, r.Next)
		require.Equal(t, string(applystate.Stopped), b.op(t, "B").State)
	})
	t.Run("DoNotStartOnATerminalApply", func(t *testing.T) {
		b := setup(t, []op{{"A", ""}, {"B", ""}})
		b.drive(t, "A", fa, "boom")
		require.Equal(t, string(fa), b.apply(t).State)
		b.fs.ResetCounts()
		r := b.drive(t, "B", pe)
		require.Equal(t, applystate.DoNotStart, r.Next)
		require.Zero(t, b.fs.Writes())
	})
}

// A poll that changes nothing costs two point reads whatever the number of
// operations; a crash between the operation write and the apply write is
// still repaired by the deployment's next poll.
func TestNoChangePollIsTwoPointReads(t *testing.T) {
	t.Parallel()
	for _, n := range []int{3, 300} {
		ops := make([]op, n)
		for i := range ops {
			ops[i] = op{id: "op" + string(rune('A'+i%26)) + itoa(i)}
		}
		b := setup(t, ops)
		first := ops[0].id
		b.drive(t, first, ru)
		b.fs.ResetCounts()
		r := b.drive(t, first, ru)
		require.Equal(t, applystate.Proceed, r.Next)
		require.Equal(t, 2, b.fs.TotalCalls(), "n=%d: %v", n, b.fs.Counts())
		require.Equal(t, 1, b.fs.Calls(storagetest.GetOperation))
		require.Equal(t, 1, b.fs.Calls(storagetest.GetApply))

		// Crash after the operation write: the apply write never happens.
		_, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 1, Methods: []storagetest.Method{storagetest.UpdateApply}})
		require.NoError(t, err)
		_, err = b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: first, State: cp}})
		require.Error(t, err)
		b.fs.ClearFaults()
		require.Equal(t, string(cp), b.op(t, first).State)
		require.False(t, b.op(t, first).Projected)
		require.Equal(t, string(ru), b.apply(t).State)
		r = b.drive(t, first, cp) // the same report: nothing changes on the row
		require.True(t, b.op(t, first).Projected, "the next poll repaired and acknowledged")
		require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
		require.Equal(t, applystate.DoNotStart, r.Next)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

// No safe way to create a rollout (before): a plan is validated whole and
// nothing is written when any of it is wrong.
func TestCreatePlanValidates(t *testing.T) {
	t.Parallel()
	good := func() applystate.Plan {
		return applystate.Plan{Apply: storage.Apply{ID: "r"}, Operations: []storage.Operation{
			{ID: "a", Seq: 1, Deployment: "east"}, {ID: "b", Seq: 2, Deployment: "west", OnFailure: "Pause"},
		}}
	}
	for name, tc := range map[string]struct {
		edit  func(*applystate.Plan)
		field string
	}{
		"PolicyTypo":          {func(p *applystate.Plan) { p.Operations[1].OnFailure = "contnue" }, "plan.Operations[1].OnFailure"},
		"StateTypo":           {func(p *applystate.Plan) { p.Operations[0].State = "runing" }, "plan.Operations[0].State"},
		"StartedState":        {func(p *applystate.Plan) { p.Operations[0].State = "running" }, "plan.Operations[0].State"},
		"DuplicateID":         {func(p *applystate.Plan) { p.Operations[1].ID = "a" }, "plan.Operations[1].ID"},
		"EmptyID":             {func(p *applystate.Plan) { p.Operations[0].ID = "" }, "plan.Operations[0].ID"},
		"OtherApply":          {func(p *applystate.Plan) { p.Operations[0].ApplyID = "x" }, "plan.Operations[0].ApplyID"},
		"FinalizerNoGroup":    {func(p *applystate.Plan) { p.Operations[0].Finalizer = true }, "plan.Operations[0].Group"},
		"NoOperations":        {func(p *applystate.Plan) { p.Operations = nil }, "plan.Operations"},
		"NoApplyID":           {func(p *applystate.Plan) { p.Apply.ID = "" }, "plan.Apply.ID"},
		"TerminalApplyState":  {func(p *applystate.Plan) { p.Apply.State = "completed" }, "plan.Apply.State"},
		"DeploymentNotLabel":  {func(p *applystate.Plan) { p.Operations[1].Deployment = "\xff" }, "Deployment"},
		"PayloadTooLarge":     {func(p *applystate.Plan) { p.Operations[1].Payload = make([]byte, storage.MaxPayloadBytes+1) }, "Payload"},
		"ApplyPayloadTooLong": {func(p *applystate.Plan) { p.Apply.Payload = make([]byte, storage.MaxPayloadBytes+1) }, "Payload"},
	} {
		t.Run(name, func(t *testing.T) {
			b := setup(t, nil)
			plan := good()
			tc.edit(&plan)
			_, _, err := b.p.CreatePlan(b.ctx, plan)
			require.ErrorIs(t, err, storage.ErrInvalid)
			require.ErrorContains(t, err, tc.field)
			require.Zero(t, b.fs.Writes(), "nothing is written: %v", b.fs.Counts())
		})
	}
}

// A crash part-way through plan creation leaves nothing that can settle;
// the retry finishes it, and the same call again is a no-op.
func TestCreatePlanCrashAndRetry(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	plan := applystate.Plan{Apply: storage.Apply{ID: "r", Payload: []byte("p")}, Operations: []storage.Operation{
		{ID: "a", Seq: 1}, {ID: "b", Seq: 2}, {ID: "c", Seq: 3, OnFailure: "continue"},
	}}
	_, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 3, Methods: []storagetest.Method{storagetest.CreateOperation}})
	require.NoError(t, err)
	_, _, err = b.p.CreatePlan(b.ctx, plan)
	require.ErrorIs(t, err, storagetest.ErrInjected)
	b.fs.ClearFaults()

	// Two of three operations exist, the apply does not: nothing settles.
	_, err = b.p.Drive(b.ctx, "r", []applystate.Task{{OperationID: "a", State: cp}})
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = b.p.Reproject(b.ctx, "r")
	require.ErrorIs(t, err, storage.ErrNotFound)

	a, ops, err := b.p.CreatePlan(b.ctx, plan)
	require.NoError(t, err)
	require.Equal(t, string(pe), a.State)
	require.Len(t, ops, 3)
	require.Equal(t, "continue", ops[2].OnFailure)
	_, ops2, err := b.p.CreatePlan(b.ctx, plan)
	require.NoError(t, err, "the same plan again is a no-op")
	require.ElementsMatch(t, ops, ops2)

	r, err := b.p.Drive(b.ctx, "r", []applystate.Task{{OperationID: "a", State: cp}})
	require.NoError(t, err)
	require.Equal(t, string(ru), r.Apply.State, "b and c are still to run")

	other := plan
	other.Operations = append([]storage.Operation{}, plan.Operations...)
	other.Operations[1].Deployment = "elsewhere"
	_, _, err = b.p.CreatePlan(b.ctx, other)
	require.ErrorIs(t, err, storage.ErrAlreadyExists)
	require.ErrorContains(t, err, "Deployment")
}

// The fold rule: a later listed row wins over the caller's fresh one. A's
// drive loop reports running while a second drive loop of A (another
// process, later) reports it failed; the first, projecting over a listing
// that already holds the failure, must not fold its older running row
// over it.
func TestLaterListedRowWinsOverTheFreshOne(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", applystate.Continue}, {"B", ""}})
	b.drive(t, "B", ru)
	// The first Drive writes A running, then lists: hold the listing.
	resume := hold(t, b, storagetest.ListOperations, 1, b.driveAsync("A", ru, ""))
	r := b.drive(t, "A", fa, "boom")
	require.Equal(t, string(rd), r.Apply.State)
	_, err := resume()
	require.NoError(t, err)
	require.Equal(t, string(rd), b.apply(t).State, "the stale running row was folded over the failure")
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// Terminal while a sibling starts, the interleaving of the report: A fails
// under halt and its Drive has listed B pending (it computed failed, and
// sealed B) when B's drive loop asks to start. A claim moves a row that
// does not hold the apply, so B bumps the apply before it claims: A's
// terminal write, at the version it read before listing, then fails, and A
// lists B's claim. B, reading the halt, gives its claim back: B is never
// told to proceed, and exactly one caller terminalizes the apply, failed.
func TestTerminalDecisionAndAClaimRace(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"A", ""}, {"B", ""}})
	b.drive(t, "A", ru)
	resumeA := hold(t, b, storagetest.UpdateApply, 1, b.driveAsync("A", fa, "boom"))
	// B reads its row and the apply, bumps the apply, writes its claim,
	// then reads the apply again: hold that second read.
	resumeB := hold(t, b, storagetest.GetApply, 2, b.driveAsync("B", pe, ""))
	require.False(t, b.op(t, "B").StartedAt.IsZero(), "B claimed its start")
	ra, err := resumeA()
	require.NoError(t, err)
	require.False(t, ra.Terminalized, "A's terminal write lost to B's bump")
	rb, err := resumeB()
	require.NoError(t, err)
	require.Equal(t, applystate.DoNotStart, rb.Next, "B read the halt after its claim")
	require.Equal(t, 1, btoi(ra.Terminalized)+btoi(rb.Terminalized), "exactly one caller terminalizes")
	require.Equal(t, string(fa), b.apply(t).State)
	require.True(t, b.op(t, "B").StartedAt.IsZero(), "the claim was given back")
	require.NoError(t, explore.CheckApplyNotEarly(b.ctx, b.store, "a"))
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}
