package applystate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

func TestProjectionWrite(t *testing.T) {
	now := tB
	for _, c := range []struct {
		name  string
		a     storage.Apply
		d     decision
		write bool
		want  storage.Apply
	}{
		{"unchanged", apply(Running, func(a *storage.Apply) { a.StartedAt = tA }), decision{state: Running}, false,
			apply(Running, func(a *storage.Apply) { a.StartedAt = tA })},
		{"unchanged but forced", apply(Running, func(a *storage.Apply) { a.StartedAt = tA }), decision{state: Running, force: true}, true,
			apply(Running, func(a *storage.Apply) { a.StartedAt = tA })},
		{"starts", apply(Pending), decision{state: Running}, true, apply(Running, func(a *storage.Apply) { a.StartedAt = now })},
		{"stays pending", apply(Pending), decision{state: Pending}, false, apply(Pending)},
		{"fails", apply(Running, func(a *storage.Apply) { a.StartedAt = tA }), decision{state: Failed, msg: "deployment x failed: boom"}, true,
			apply(Failed, func(a *storage.Apply) {
				a.StartedAt, a.CompletedAt, a.ErrorMessage = tA, now, "deployment x failed: boom"
			})},
		{"stopped has no completion time", apply(Running, func(a *storage.Apply) { a.StartedAt = tA }), decision{state: Stopped}, true,
			apply(Stopped, func(a *storage.Apply) { a.StartedAt = tA })},
		{"message only", apply(RunningDegraded, func(a *storage.Apply) { a.StartedAt = tA }), decision{state: RunningDegraded, msg: "m"}, true,
			apply(RunningDegraded, func(a *storage.Apply) { a.StartedAt, a.ErrorMessage = tA, "m" })},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, write := projectionWrite(c.a, c.d, now)
			require.Equal(t, c.write, write)
			require.Equal(t, c.want, got)
		})
	}
}

func TestWriteOutcome(t *testing.T) {
	w := apply(Completed, func(a *storage.Apply) { a.UpdatedAt, a.Version = tB, 3 })
	at := func(v int64, mods ...func(*storage.Apply)) storage.Apply {
		b := w
		b.Version = v
		for _, m := range mods {
			m(&b)
		}
		return b
	}
	running := w
	running.State = string(Running)
	for _, c := range []struct {
		name string
		b, w storage.Apply
		want outcome
	}{
		{"still at the version expected", at(3), w, notLanded},
		{"this write at the next version", at(4), w, landed},
		{"another stamp at the next version", at(4, func(a *storage.Apply) { a.UpdatedAt = tA }), w, superseded},
		{"another flag at the next version", at(4, func(a *storage.Apply) { a.StopRequested = true }), w, superseded},
		{"another payload at the next version", at(4, func(a *storage.Apply) { a.Payload = []byte("p") }), w, superseded},
		{"a terminal write recognized later", at(6, func(a *storage.Apply) { a.Payload = []byte("p") }), w, landed},
		{"a non-terminal write later", func() storage.Apply { b := running; b.Version = 6; return b }(), running, superseded},
		{"a non-terminal write at the next version", func() storage.Apply { b := running; b.Version = 4; return b }(), running, landed},
	} {
		require.Equal(t, c.want, writeOutcome(c.b, c.w, 3), c.name)
	}
}

func TestAcknowledgedBack(t *testing.T) {
	op := row("x", Running, started, version(4))
	acked := op
	acked.Projected, acked.ProjectedVersion, acked.Version = true, 5, 5
	moved := acked
	moved.State = string(Completed)
	require.Equal(t, landed, acknowledgedBack(acked, op))
	require.Equal(t, notLanded, acknowledgedBack(op, op))
	require.Equal(t, superseded, acknowledgedBack(moved, op), "another write at the next version")
	unacked := op
	unacked.Version = 5
	require.Equal(t, superseded, acknowledgedBack(unacked, op))
	stale := acked
	stale.ProjectedVersion = 4
	require.Equal(t, superseded, acknowledgedBack(stale, op), "acknowledged for another version")
}

func TestFlagWrites(t *testing.T) {
	a := apply(Running)
	require.True(t, requestStop(&a))
	require.True(t, a.StopRequested)
	require.False(t, requestStop(&a), "a stop already requested is no change")
	a.PauseReleased = true
	require.True(t, clearPauseReleased(&a))
	require.False(t, a.PauseReleased)
	require.False(t, clearPauseReleased(&a))
}

func TestStopTodo(t *testing.T) {
	ops := []storage.Operation{row("p", Pending), row("c", Pending, started), row("r", Running, started), row("s", Stopped), row("q", Pending, seq(1))}
	require.Empty(t, stopTodo(apply(Running), ops), "no stop requested")
	todo := stopTodo(apply(Running, stopRequested), ops)
	require.Equal(t, []storage.Operation{ops[0], ops[4]}, todo, "the unclaimed pending rows, in listing order")
	w := stoppedRow(row("p", Pending, projected), tB)
	require.Equal(t, row("p", Stopped, func(op *storage.Operation) { op.UpdatedAt = tB }), w)
}

func TestReprojectOver(t *testing.T) {
	stop := apply(Running, stopRequested)
	for _, c := range []struct {
		name string
		a    storage.Apply
		ops  []storage.Operation
		want reprojection
	}{
		{"no operations", apply(Running), nil, reprojection{decision: decision{undetermined: true}}},
		{"a stop to finish", stop, []storage.Operation{row("x", Running, started), row("y", Pending, seq(1))},
			reprojection{stop: []storage.Operation{row("y", Pending, seq(1))}}},
		{"acknowledged rows", apply(Running), []storage.Operation{row("x", Running, started, projected)},
			reprojection{decision: decision{state: Running}}},
		{"a row not acknowledged forces", apply(Running), []storage.Operation{row("x", Running, started, projected), row("y", Pending)},
			reprojection{decision: decision{state: Running, force: true}}},
		{"terminal seals", stop, []storage.Operation{row("x", Stopped, projected), row("y", Completed, projected)},
			reprojection{seal: true, decision: decision{state: Stopped}}},
		{"failed names the deployment", apply(Running), []storage.Operation{row("x", Failed, projected, func(op *storage.Operation) {
			op.Deployment, op.ErrorMessage = "eu", "boom"
		})}, reprojection{seal: true, decision: decision{state: Failed, msg: "deployment eu failed: boom"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := append([]storage.Operation(nil), c.ops...)
			require.Equal(t, c.want, reprojectOver(c.a, c.ops))
			require.Equal(t, before, c.ops, "the listing keeps its order")
		})
	}
	require.True(t, reprojectAcknowledges(Result{Apply: apply(Running), Changed: true}))
	require.False(t, reprojectAcknowledges(Result{Apply: apply(Running)}), "no write of its own")
	require.False(t, reprojectAcknowledges(Result{Apply: apply(Stopped), Changed: true}), "terminal")
	require.False(t, reprojectAcknowledges(Result{Apply: apply(Running), Changed: true, Undetermined: true}))
	listed := []storage.Operation{row("a", Running, projected), row("b", Running), row("c", Pending, started), row("d", Pending)}
	require.Equal(t, []storage.Operation{listed[1], listed[3]}, toAcknowledge(listed), "claims are left to their Drives")
}

func TestSealable(t *testing.T) {
	for _, c := range []struct {
		op   storage.Operation
		want bool
	}{
		{row("x", Pending), true},
		{row("x", Stopped, started), true},
		{row("x", Pending, started), false}, // a claim is active
		{row("x", Running, started), false},
		{row("x", Completed), false},
		{row("x", Failed), false},
	} {
		require.Equal(t, c.want, sealable(c.op), "%s started=%v", c.op.State, !c.op.StartedAt.IsZero())
	}
}

func TestRelease(t *testing.T) {
	for _, c := range []struct {
		op         storage.Operation
		releasable bool
	}{
		{row("x", Failed, policy(Pause)), true},
		{row("x", Failed, policy("PAUSE")), true},
		{row("x", Failed, policy(Pause), func(op *storage.Operation) { op.ReleasedAt = tA }), false},
		{row("x", Failed, policy(Continue)), false},
		{row("x", Running, policy(Pause)), false},
		{row("x", Failed), false},
	} {
		require.Equal(t, c.releasable, releasable(c.op), "%+v", c.op)
	}
	w := releasedRow(row("x", Failed, policy(Pause), projected), tB)
	require.Equal(t, tB, w.ReleasedAt)
	require.False(t, w.Projected)
	require.Equal(t, string(Pause), w.OnFailure, "the declared policy stays")
	require.True(t, released(w))
	require.Equal(t, Continue, Children([]storage.Operation{w})[0].OnFailure)
	require.False(t, released(row("x", Failed, policy(Continue), func(op *storage.Operation) { op.ReleasedAt = time.Time{} })))
}
