package applystate

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

var (
	tA = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tB = tA.Add(time.Minute)
)

// fixed is a clock that always reads t and counts its readings.
func fixed(t time.Time, reads *int) func() time.Time {
	return func() time.Time { *reads++; return t }
}

// row returns an operation row of apply "a" in state s. A row made
// projected is acknowledged at its version (see [Acknowledged]) unless a
// mod set ProjectedVersion.
func row(id string, s State, mods ...func(*storage.Operation)) storage.Operation {
	op := storage.Operation{ApplyID: "a", ID: id, State: string(s), OnFailure: string(Halt), Version: 1}
	for _, m := range mods {
		m(&op)
	}
	if op.Projected && op.ProjectedVersion == 0 {
		op.ProjectedVersion = op.Version
	}
	return op
}

func started(op *storage.Operation)   { op.StartedAt = tA }
func projected(op *storage.Operation) { op.Projected = true }
func ackFor(v int64) func(*storage.Operation) {
	return func(op *storage.Operation) { op.Projected, op.ProjectedVersion = true, v }
}
func version(v int64) func(*storage.Operation) {
	return func(op *storage.Operation) { op.Version = v }
}
func policy(p Policy) func(*storage.Operation) {
	return func(op *storage.Operation) { op.OnFailure = string(p) }
}
func seq(n int64) func(*storage.Operation) { return func(op *storage.Operation) { op.Seq = n } }

func apply(s State, mods ...func(*storage.Apply)) storage.Apply {
	a := storage.Apply{ID: "a", State: string(s), Version: 3}
	for _, m := range mods {
		m(&a)
	}
	return a
}

func stopRequested(a *storage.Apply) { a.StopRequested = true }

func TestParseReport(t *testing.T) {
	for _, c := range []struct {
		name  string
		tasks []Task
		want  report
		field string // the field an ErrInvalid names; empty: no error
	}{
		{"no tasks", nil, report{state: Pending}, ""},
		{"derived", []Task{{State: Running}, {State: Completed}}, report{state: Running}, ""},
		{"first failure's message", []Task{{State: Failed, ErrorMessage: "one"}, {State: Failed, ErrorMessage: "two"}},
			report{state: Failed, failMsg: "one", failed: true}, ""},
		{"a failed task under a cancelled one", []Task{{State: Cancelled}, {State: Failed, ErrorMessage: "x"}},
			report{state: Failed, failMsg: "x", failed: true}, ""},
		{"alias", []Task{{State: "COMPLETE"}}, report{state: Completed}, ""},
		{"unknown state", []Task{{State: Running}, {State: "finished"}}, report{}, "tasks[1].State"},
		{"bad operation id", []Task{{OperationID: string(make([]byte, storage.MaxKeyBytes+1)), State: Running}}, report{}, "tasks[0].OperationID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseReport(c.tasks)
			if c.field != "" {
				require.ErrorIs(t, err, storage.ErrInvalid)
				require.ErrorContains(t, err, c.field)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestClassifyAndCheckDrive(t *testing.T) {
	lease := &Lease{ApplyID: "a", OperationID: "x", Owner: "o", Token: 1}
	for _, c := range []struct {
		name   string
		tasks  []Task
		l      *Lease
		hasOps bool
		model  model
		field  string // the field an ErrInvalid names; empty: no error
	}{
		{"no tasks", nil, nil, true, noModel, ""},
		{"unnamed", []Task{{}, {}}, nil, true, noModel, ""},
		{"one operation", []Task{{OperationID: "x"}, {OperationID: "x"}}, nil, true, oneModel, ""},
		{"two operations", []Task{{OperationID: "x"}, {OperationID: "x"}, {OperationID: "y"}}, nil, true, twoOps, "tasks[2].OperationID"},
		{"two operations without a store", []Task{{OperationID: "x"}, {OperationID: "y"}}, nil, false, twoOps, "tasks[1].OperationID"},
		{"mixed", []Task{{OperationID: "x"}, {}, {}}, nil, true, mixed, "tasks[1].OperationID"},
		{"mixed without a store", []Task{{}, {OperationID: "x"}}, nil, false, mixed, ""},
		{"lease", []Task{{OperationID: "x"}}, lease, true, oneModel, ""},
		{"lease without a store", []Task{{OperationID: "x"}}, lease, false, oneModel, "lease"},
		{"lease, unnamed tasks", []Task{{}}, lease, true, noModel, "lease"},
		{"lease of another operation", []Task{{OperationID: "y"}}, lease, true, oneModel, "lease.OperationID"},
		{"lease of another apply", []Task{{OperationID: "x"}}, &Lease{ApplyID: "b", OperationID: "x", Owner: "o"}, true, oneModel, "lease.ApplyID"},
		{"lease without an owner", []Task{{OperationID: "x"}}, &Lease{ApplyID: "a", OperationID: "x"}, true, oneModel, "lease.Owner"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, opID, at := classify(c.tasks)
			require.Equal(t, c.model, m)
			err := checkDrive("a", c.tasks, m, opID, at, c.l, c.hasOps)
			if c.field == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, storage.ErrInvalid)
			require.ErrorContains(t, err, c.field)
		})
	}
}

func TestUnmodelled(t *testing.T) {
	require.NoError(t, unmodelled("a", 0, 0))
	require.NoError(t, unmodelled("a", 2, 0))
	err := unmodelled("a", 0, 1)
	require.ErrorIs(t, err, storage.ErrInvalid)
	require.ErrorContains(t, err, "tasks: ")
	err = unmodelled("a", 1, 3)
	require.ErrorIs(t, err, storage.ErrInvalid)
	require.ErrorContains(t, err, "tasks[0].OperationID")
}

func TestMayBeHalted(t *testing.T) {
	degraded := apply(RunningDegraded)
	for _, c := range []struct {
		name    string
		current State
		row     storage.Operation
		a       storage.Apply
		noClaim bool
		want    bool
	}{
		{"pending report on a degraded rollout", Pending, row("x", Pending), degraded, false, true},
		{"a claim not granted yet", Pending, row("x", Pending, started), degraded, false, true},
		{"a granted claim", Pending, row("x", Pending, started, projected), degraded, false, false},
		{"known halted", Pending, row("x", Pending), degraded, true, false},
		{"stop requested", Pending, row("x", Pending), apply(RunningDegraded, stopRequested), false, false},
		{"running rollout", Pending, row("x", Pending), apply(Running), false, false},
		{"running report", Running, row("x", Pending), degraded, false, false},
		{"started row", Pending, row("x", Running), degraded, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, mayBeHalted(c.current, c.row, c.a, c.noClaim))
		})
	}
}

func TestReportRow(t *testing.T) {
	open, paused, stop := apply(Running), apply(Paused), apply(Running, stopRequested)
	pend := report{state: Pending}
	for _, c := range []struct {
		name    string
		row     storage.Operation
		a       storage.Apply
		rep     report
		noClaim bool
		want    storage.Operation
		reads   int // clock readings
	}{
		{"claim", row("x", Pending), open, pend, false, row("x", Pending, started), 1},
		{"no claim while paused", row("x", Pending), paused, pend, false, row("x", Pending), 0},
		{"no claim after a stop", row("x", Pending), stop, pend, false, row("x", Pending), 0},
		{"no claim when halted", row("x", Pending), open, pend, true, row("x", Pending), 0},
		{"a claim is kept", row("x", Pending, started), open, pend, false, row("x", Pending, started), 0},
		{"give back while paused", row("x", Pending, started), paused, pend, false, row("x", Pending), 0},
		{"give back when halted", row("x", Pending, started), open, pend, true, row("x", Pending), 0},
		{"give back as stopped", row("x", Pending, started), stop, pend, false, row("x", Stopped), 0},
		{"a granted claim is kept", row("x", Pending, started, projected), stop, pend, false, row("x", Pending, started, projected), 0},
		{"start", row("x", Pending), open, report{state: Running}, false,
			row("x", Running, func(op *storage.Operation) { op.StartedAt = tB }), 1},
		{"a claimed start keeps its time", row("x", Pending, started), open, report{state: Running}, false, row("x", Running, started), 1},
		{"settle", row("x", Running, started), open, report{state: Failed, failMsg: "boom", failed: true}, false,
			row("x", Failed, started, func(op *storage.Operation) { op.CompletedAt, op.ErrorMessage = tB, "boom" }), 1},
		{"a stopped row settles", row("x", Stopped), stop, report{state: Completed}, false,
			row("x", Completed, func(op *storage.Operation) { op.StartedAt, op.CompletedAt = tB, tB }), 1},
		{"a stopped row does not run again", row("x", Stopped), stop, report{state: Running}, false, row("x", Stopped), 0},
		{"a settled row never moves", row("x", Completed, started), open, report{state: Failed, failMsg: "late", failed: true}, false, row("x", Completed, started), 0},
		{"a started row never returns to pending", row("x", Running, started), open, pend, false, row("x", Running, started), 0},
		{"a started row does not claim", row("x", Running, started), open, pend, false, row("x", Running, started), 0},
		{"stopped stays, not restamped", row("x", Stopped, started), open, report{state: Stopped}, false, row("x", Stopped, started), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			reads := 0
			got := reportRow(c.row, c.a, c.rep, c.noClaim, fixed(tB, &reads))
			if c.name == "claim" {
				c.want.StartedAt = tB
			}
			require.Equal(t, c.want, got)
			require.Equal(t, c.reads, reads, "clock readings")
		})
	}
}

func TestMayMove(t *testing.T) {
	for _, from := range States() {
		for _, to := range States() {
			want := true
			switch {
			case from.Settled():
				want = false
			case from == Stopped:
				want = to.Settled()
			case from != Pending && to == Pending:
				want = false
			}
			require.Equal(t, want, mayMove(from, to), "%s → %s", from, to)
		}
	}
	require.False(t, mayMove(Completed, Failed))
	require.False(t, mayMove(Stopped, Running))
	require.True(t, mayMove(Stopped, Failed))
	require.False(t, mayMove(Running, Pending))
	require.True(t, mayMove(Pending, Running))
}

func TestProjectOver(t *testing.T) {
	open := apply(Running)
	for _, c := range []struct {
		name     string
		listed   []storage.Operation
		row      storage.Operation
		b        storage.Apply
		missing  bool
		giveBack bool
		state    State
		mine     storage.Operation // the folded row as projected
	}{
		{"the listing lacks the row", []storage.Operation{row("y", Running)}, row("x", Running, version(2)), open, true, false, "", storage.Operation{}},
		{"the fresh row wins over a stale listing", []storage.Operation{row("x", Pending), row("y", Completed, seq(1))},
			row("x", Completed, version(2)), open, false, false, Completed, row("x", Completed, version(2))},
		{"a later listed write wins", []storage.Operation{row("x", Failed, version(3)), row("y", Completed, seq(1))},
			row("x", Running, version(2)), open, false, false, Failed, row("x", Failed, version(3))},
		{"a claim that reads a stop", []storage.Operation{row("x", Pending)}, row("x", Pending, started, version(2)),
			apply(Running, stopRequested), false, true, "", storage.Operation{}},
		{"a claim that reads a pause", []storage.Operation{row("x", Pending)}, row("x", Pending, started, version(2)),
			apply(Paused), false, true, "", storage.Operation{}},
		{"a claim whose listing pauses", []storage.Operation{row("f", Failed, policy(Pause)), row("x", Pending, seq(1))},
			row("x", Pending, started, seq(1), version(2)), open, false, true, "", storage.Operation{}},
		{"a claim whose listing halts", []storage.Operation{row("f", Failed), row("x", Pending, seq(1)), row("r", Running, started, seq(2))},
			row("x", Pending, started, seq(1), version(2)), open, false, true, "", storage.Operation{}},
		{"an orphaned finalizer's claim", []storage.Operation{
			row("w", Failed, policy(Continue), func(op *storage.Operation) { op.Group = "g" }),
			row("x", Pending, seq(1), func(op *storage.Operation) { op.Group, op.Finalizer = "g", true }),
			row("r", Running, started, seq(2))},
			row("x", Pending, started, seq(1), version(2), func(op *storage.Operation) { op.Group, op.Finalizer = "g", true }),
			open, false, true, "", storage.Operation{}},
		{"a granted claim is not given back", []storage.Operation{row("x", Pending)}, row("x", Pending, started, projected, version(2)),
			apply(Running, stopRequested), false, false, Running, row("x", Pending, started, projected, version(2))},
		{"an open claim", []storage.Operation{row("x", Pending), row("y", Pending, seq(1))}, row("x", Pending, started, version(2)),
			open, false, false, Running, row("x", Pending, started, version(2))},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := projectOver(c.listed, c.row, c.b)
			require.Equal(t, c.missing, got.missing, "missing")
			require.Equal(t, c.giveBack, got.giveBack, "giveBack")
			require.Equal(t, c.state, got.state)
			if c.missing || c.giveBack {
				return
			}
			for i := 1; i < len(got.ops); i++ {
				require.LessOrEqual(t, got.ops[i-1].Seq, got.ops[i].Seq, "rollout order")
			}
			for _, op := range got.ops {
				if op.ID == c.row.ID {
					require.Equal(t, c.mine, op)
				}
			}
		})
	}
}

func TestAckVersion(t *testing.T) {
	v := newAckVersion()
	require.True(t, v.forces(apply(Running)), "the first version read is forced")
	require.Equal(t, int64(3), v.at)
	require.True(t, v.forces(apply(Running)), "again at that version")
	later := apply(Running)
	later.Version = 4
	require.False(t, v.forces(later), "a later version lists the row")
	for _, c := range []struct {
		name string
		res  Result
		want bool
	}{
		{"written", Result{Apply: apply(Running), Changed: true}, true},
		{"unchanged at the version", Result{Apply: apply(Running)}, false},
		{"past the version", Result{Apply: later}, true},
		{"undetermined", Result{Apply: later, Undetermined: true}, false},
		{"terminal", Result{Apply: apply(Completed), Changed: true}, false},
	} {
		require.Equal(t, c.want, v.acknowledges(c.res), c.name)
	}
	require.True(t, newAckVersion().acknowledges(Result{Apply: apply(Running)}), "no projection decided: any version is past")
}

func TestAfterAcknowledge(t *testing.T) {
	conflict := fmt.Errorf("w: %w", storage.ErrConflict)
	other := errors.New("disk on fire")
	claim, plain := row("x", Pending, started), row("x", Running, started)
	for _, c := range []struct {
		name   string
		row    storage.Operation
		leased bool
		err    error
		want   ackStep
	}{
		{"landed", claim, false, nil, ackLanded},
		{"a claim's conflict", claim, false, conflict, ackReread},
		{"a leased row's conflict", plain, true, conflict, ackReread},
		{"a plain row's conflict", plain, false, conflict, ackIgnored},
		{"a claim's other error", claim, true, other, ackFailed},
		{"a plain row's other error", plain, true, other, ackIgnored},
	} {
		require.Equal(t, c.want, afterAcknowledge(c.row, c.leased, c.err), c.name)
	}
}

func TestDriveDirectiveDecision(t *testing.T) {
	l := &Lease{Resume: true}
	for _, c := range []struct {
		name    string
		a       storage.Apply
		row     storage.Operation
		current State
		l       *Lease
		want    Directive
	}{
		{"terminal apply", apply(Completed), row("x", Running), Running, nil, DoNotStart},
		{"settled row", apply(Running), row("x", Completed), Completed, nil, DoNotStart},
		{"stopped row", apply(Running), row("x", Stopped), Stopped, nil, DoNotStart},
		{"running", apply(Running), row("x", Running), Running, nil, Proceed},
		{"running after a stop", apply(Running, stopRequested), row("x", Running), Running, nil, DoNotStart},
		{"a granted claim", apply(Running), row("x", Pending, started, projected), Pending, nil, Proceed},
		{"a claim not granted", apply(Running), row("x", Pending, started), Pending, nil, Wait},
		{"a grant an older release's write bumped past", apply(Running), row("x", Pending, started, version(2), ackFor(1)), Pending, nil, Wait},
		{"unclaimed while paused", apply(Paused), row("x", Pending), Pending, nil, Wait},
		{"unclaimed, halted", apply(RunningDegraded), row("x", Pending), Pending, nil, DoNotStart},
		{"unclaimed after a stop", apply(Running, stopRequested), row("x", Pending), Pending, nil, DoNotStart},
		{"a taken-over grant resumes", apply(Running), row("x", Pending, started, projected), Pending, l, Resume},
		{"a taken-over start reported running", apply(Running), row("x", Running), Running, l, Proceed},
		{"a takeover of a claim not granted", apply(Running), row("x", Pending, started, projected), Pending, &Lease{}, Proceed},
	} {
		require.Equal(t, c.want, driveDirective(c.a, c.row, c.current, c.l), c.name)
	}
	require.Equal(t, DoNotStart, nextOf(apply(Failed)))
	require.Equal(t, DoNotStart, nextOf(apply(Running, stopRequested)))
	require.Equal(t, Proceed, nextOf(apply(Paused)))
}
