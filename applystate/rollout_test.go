package applystate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
)

type C = applystate.Child

func failed(p applystate.Policy) C { return C{State: fa, OnFailure: p, Started: true} }

var (
	running   = C{State: ru, Started: true}
	pending   = C{State: pe}
	completed = C{State: cp, Started: true}
	stopNever = C{State: st}
	stopRan   = C{State: st, Started: true}
)

func TestRolloutReferenceCases(t *testing.T) {
	t.Parallel()
	released := applystate.Flags{PauseReleased: true}
	stop := applystate.Flags{StopRequested: true}
	for _, c := range []struct {
		name     string
		children []C
		flags    applystate.Flags
		want     S
	}{
		{"no children", nil, applystate.Flags{}, pe},
		{"F(continue)+P", []C{failed(applystate.Continue), pending}, applystate.Flags{}, rd},
		{"F(continue)+C", []C{failed(applystate.Continue), completed}, applystate.Flags{}, fa},
		{"F(continue)+F(continue)", []C{failed(applystate.Continue), failed(applystate.Continue)}, applystate.Flags{}, fa},
		{"F(halt)+P", []C{failed(applystate.Halt), pending}, applystate.Flags{}, fa},
		{"F(empty policy)+P", []C{failed(""), pending}, applystate.Flags{}, fa},
		{"F(halt)+R", []C{failed(applystate.Halt), running}, applystate.Flags{}, rd},
		{"F(pause)+later P", []C{failed(applystate.Pause), pending}, applystate.Flags{}, pa},
		{"F(pause)+later C", []C{failed(applystate.Pause), completed}, applystate.Flags{}, fa},
		{"R then F(pause)", []C{running, failed(applystate.Pause)}, applystate.Flags{}, rd},
		{"released pause = continue", []C{failed(applystate.Pause), pending}, released, rd},
		{"released pause, all settled", []C{failed(applystate.Pause), completed}, released, fa},
		{"halt, never-started stopped sibling", []C{failed(applystate.Halt), stopNever}, applystate.Flags{}, fa},
		{"halt, started stopped sibling", []C{failed(applystate.Halt), stopRan}, applystate.Flags{}, rd},
		{"pause, never-started sibling", []C{failed(applystate.Pause), stopNever}, applystate.Flags{}, pa},
		{"continue, never-started sibling", []C{failed(applystate.Continue), stopNever}, applystate.Flags{}, rd},
		{"continue, never-started sibling, stop requested", []C{failed(applystate.Continue), stopNever}, stop, fa},
		{"all completed", []C{completed, completed}, applystate.Flags{}, cp},
		{"completed + running", []C{completed, running}, applystate.Flags{}, ru},
		{"completed + pending is running", []C{completed, pending}, applystate.Flags{}, ru},
		{"all pending", []C{pending, pending}, applystate.Flags{}, pe},
		{"stopped while one still runs", []C{stopNever, running}, stop, ru},
		{"stopped, nothing in flight", []C{completed, stopNever}, stop, st},
		{"cancelled while one runs", []C{{State: ca, Started: true}, running}, applystate.Flags{}, ru},
		{"two pauses, later P", []C{failed(applystate.Pause), failed(applystate.Pause), pending}, applystate.Flags{}, pa},
		{"pause after the last unfinished", []C{running, failed(applystate.Pause), failed(applystate.Pause)}, applystate.Flags{}, rd},
		{"pause then continue, later P", []C{failed(applystate.Pause), failed(applystate.Continue), pending}, applystate.Flags{}, pa},
		{"orphaned finalizer is inert", []C{failed(applystate.Continue), {State: pe, Orphaned: true}}, applystate.Flags{}, fa},
	} {
		require.Equal(t, c.want, applystate.Rollout(c.children, c.flags), c.name)
	}
}

func TestRolloutAllocs(t *testing.T) {
	children := make([]C, 1000)
	for i := range children {
		children[i] = []C{completed, running, pending, failed(applystate.Continue)}[i%4]
	}
	require.Zero(t, testing.AllocsPerRun(20, func() { applystate.Rollout(children, applystate.Flags{}) }))
}

func TestChildren(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ops := []storage.Operation{
		{ID: "fin", Seq: 2, Group: "g", Finalizer: true, State: "pending"},
		{ID: "b", Seq: 1, Group: "g", State: "FAILED", OnFailure: "continue", StartedAt: at},
		{ID: "a", Seq: 1, State: "stopped", StartedAt: at},
		{ID: "z", Seq: 0, State: "stopped"},
		{ID: "other-fin", Seq: 3, Group: "h", Finalizer: true, State: "pending"},
		{ID: "weird", Seq: 4, State: "running", OnFailure: "sometimes"},
	}
	got := applystate.Children(ops)
	require.Equal(t, []C{
		{State: st, OnFailure: applystate.Halt},                    // z: stopped, never started
		{State: st, OnFailure: applystate.Halt, Started: true},     // a: stopped after starting
		{State: fa, OnFailure: applystate.Continue, Started: true}, // b
		{State: pe, OnFailure: applystate.Halt, Orphaned: true},    // fin: its group failed
		{State: pe, OnFailure: applystate.Halt},                    // other-fin: group h is fine
		{State: ru, OnFailure: applystate.Halt, Started: true},     // unknown policy is halt
	}, got)
	require.Equal(t, "fin", ops[0].ID, "the input is not reordered")
}

// kinds lists every distinct child: each state × policy × started ×
// orphaned, with the same constraints as FuzzRollout (a state other than
// pending or stopped has started; only a pending child is orphaned).
func kinds() []C {
	var out []C
	for _, s := range applystate.States() {
		for _, p := range []applystate.Policy{applystate.Halt, applystate.Continue, applystate.Pause, ""} {
			for _, started := range []bool{false, true} {
				if !started && s != pe && s != st {
					continue
				}
				out = append(out, C{State: s, OnFailure: p, Started: started})
				if s == pe && !started {
					out = append(out, C{State: s, OnFailure: p, Orphaned: true})
				}
			}
		}
	}
	return out
}

// The Rollout properties over every pair of children and every flag
// combination: a terminal result implies no active child; a failed child
// never yields completed; order matters only for an unreleased pause.
func TestRolloutProperties(t *testing.T) {
	t.Parallel()
	ks := kinds()
	for _, f := range []applystate.Flags{{}, {PauseReleased: true}, {StopRequested: true}, {PauseReleased: true, StopRequested: true}} {
		for _, a := range ks {
			for _, b := range ks {
				pair := []C{a, b}
				got := applystate.Rollout(pair, f)
				for _, c := range pair {
					active := !c.State.Terminal() && c.State != pe && !c.Orphaned
					if got.Terminal() && active {
						require.Failf(t, "terminal with an active child", "%+v %+v → %q", pair, f, got)
					}
				}
				if (a.State == fa || b.State == fa) && got == cp {
					require.Failf(t, "completed with a failed child", "%+v %+v", pair, f)
				}
				pause := (a.State == fa && a.OnFailure == applystate.Pause) || (b.State == fa && b.OnFailure == applystate.Pause)
				if !pause || f.PauseReleased {
					if back := applystate.Rollout([]C{b, a}, f); back != got {
						require.Failf(t, "order matters without a pause", "%+v %+v: %q vs %q", pair, f, got, back)
					}
				}
			}
		}
	}
	// And order does matter for a pause: F(pause) then P holds, P then
	// F(pause) does not.
	require.Equal(t, pa, applystate.Rollout([]C{failed(applystate.Pause), pending}, applystate.Flags{}))
	require.Equal(t, rd, applystate.Rollout([]C{pending, failed(applystate.Pause)}, applystate.Flags{}))
}
