package applystate_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

var explainAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// row is an operation row for the explain tests; its ID and Seq are set
// by rows.
func row(state S, policy applystate.Policy) storage.Operation {
	op := storage.Operation{State: string(state), OnFailure: string(policy)}
	if state != pe && state != st {
		op.StartedAt = explainAt
	}
	return op
}

// rows numbers ops o0, o1, … in rollout order.
func rows(ops ...storage.Operation) []storage.Operation {
	for i := range ops {
		ops[i].ID, ops[i].Seq, ops[i].ApplyID = fmt.Sprintf("o%d", i), int64(i), "a"
	}
	return ops
}

func claimedRow() storage.Operation { op := row(pe, ""); op.StartedAt = explainAt; return op }
func stoppedRan() storage.Operation { op := row(st, ""); op.StartedAt = explainAt; return op }
func releasedPause() storage.Operation {
	op := row(fa, applystate.Pause)
	op.ReleasedAt = explainAt
	return op
}

func TestExplainRules(t *testing.T) {
	t.Parallel()
	stop := storage.Apply{ID: "a", StopRequested: true}
	for _, c := range []struct {
		name    string
		apply   storage.Apply
		ops     []storage.Operation
		rule    applystate.Rule
		state   S
		lists   map[string][]string
		changes []string
	}{
		{"no rows", storage.Apply{ID: "a", State: "running"}, nil, applystate.RuleNoOperations, pe, nil,
			[]string{"the next Drive sets the state its tasks report"}},
		{"nothing started", storage.Apply{ID: "a"}, rows(row(pe, ""), row(pe, "")), applystate.RuleNotStarted, pe,
			map[string][]string{"not started": {"o0", "o1"}}, []string{"the first start of an operation makes it running", "Stop ends it: stopped"}},
		{"a claimed start", storage.Apply{ID: "a"}, rows(claimedRow(), row(pe, "")), applystate.RuleInFlight, ru,
			map[string][]string{"holding": {"o0"}, "active": {"o0"}}, nil},
		{"one completed, one pending", storage.Apply{ID: "a"}, rows(row(cp, ""), row(pe, "")), applystate.RuleStarted, ru,
			map[string][]string{"not started": {"o1"}}, nil},
		{"running", storage.Apply{ID: "a"}, rows(row(ru, ""), row(wc, "")), applystate.RuleInFlight, ru, nil,
			[]string{"it completes once every operation completes; a failure acts by its policy", "Stop makes it running until o0, o1 stop or settle"}},
		{"held open", storage.Apply{ID: "a"}, rows(row(ca, ""), row(ru, "")), applystate.RuleHeldOpenByActive, ru,
			map[string][]string{"active": {"o1"}}, []string{"it is over once o1 settle or stop"}},
		{"all completed", storage.Apply{ID: "a", State: "completed"}, rows(row(cp, ""), row(cp, "")), applystate.RuleAllCompleted, cp, nil,
			[]string{"nothing: the apply is terminal and its rows no longer change"}},
		{"stopped", storage.Apply{ID: "a", State: "stopped", StopRequested: true}, rows(row(cp, ""), row(st, "")), applystate.RuleStopped, st,
			map[string][]string{"inert": {"o1"}}, nil},
		{"reverted", storage.Apply{ID: "a"}, rows(row(re, ""), row(cp, "")), applystate.RuleSettled, re, nil, nil},
		{"halt draining", storage.Apply{ID: "a"}, rows(row(fa, applystate.Halt), row(ru, ""), row(pe, "")), applystate.RuleHaltDraining, rd,
			map[string][]string{"halting": {"o0"}, "holding": {"o1"}, "not started": {"o2"}}, []string{"halted by o0: it is failed once o1 settle or stop"}},
		{"halted", storage.Apply{ID: "a"}, rows(row(fa, ""), row(pe, "")), applystate.RuleHaltedByFailure, fa,
			map[string][]string{"halting": {"o0"}, "failed": {"o0"}}, []string{"Reproject (or the next Drive) writes failed over the stored pending"}},
		{"paused", storage.Apply{ID: "a", State: "paused"}, rows(row(fa, applystate.Pause), row(pe, "")), applystate.RulePausedByFailure, pa,
			map[string][]string{"pausing": {"o0"}}, []string{"ReleasePause releases o0: the apply is then running_degraded", "Stop ends it: failed"}},
		{"released pause", storage.Apply{ID: "a"}, rows(releasedPause(), row(pe, "")), applystate.RuleDegraded, rd,
			map[string][]string{"released": {"o0"}}, []string{"it is failed once o1 settle"}},
		{"continue, all settled", storage.Apply{ID: "a"}, rows(row(fa, applystate.Continue), row(cp, "")), applystate.RuleFailuresSettled, fa, nil, nil},
		{"orphaned finalizer", storage.Apply{ID: "a"}, rows(
			storage.Operation{State: "failed", Group: "g", StartedAt: explainAt, OnFailure: "continue"},
			storage.Operation{State: "pending", Group: "g", Finalizer: true}), applystate.RuleFailuresSettled, fa,
			map[string][]string{"inert": {"o1"}}, nil},
		{"stop over a started stop", stop, rows(row(fa, ""), stoppedRan()), applystate.RuleHaltedByFailure, fa,
			map[string][]string{"inert": {"o1"}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := applystate.Explain(c.apply, c.ops)
			require.Equal(t, c.rule, e.Rule)
			require.Equal(t, c.state, e.State)
			require.Equal(t, applystate.Rollout(applystate.Children(c.ops), flagsOf(c.apply)), e.State)
			for name, want := range c.lists {
				require.Equal(t, want, lists(e)[name], name)
			}
			for _, want := range c.changes {
				require.Contains(t, e.Changes, want)
			}
			require.Contains(t, e.String(), string(e.State)+": "+e.Rule.Describe())
		})
	}
}

func flagsOf(a storage.Apply) applystate.Flags {
	return applystate.Flags{PauseReleased: a.PauseReleased, StopRequested: a.StopRequested}
}

func lists(e applystate.Explanation) map[string][]string {
	return map[string][]string{
		"failed": e.Failed, "halting": e.Halting, "pausing": e.Pausing, "released": e.Released,
		"holding": e.Holding, "active": e.Active, "not started": e.NotStarted, "inert": e.Inert, "to stop": e.ToStop,
	}
}

func TestExplainStale(t *testing.T) {
	t.Parallel()
	ops := rows(row(cp, ""), row(pe, ""))
	e := applystate.Explain(storage.Apply{ID: "a", State: "running", StopRequested: true}, ops)
	require.True(t, e.Stale, "a stop with a pending row left is unfinished")
	require.Equal(t, []string{"o1"}, e.ToStop)
	require.Contains(t, e.Changes, "Reproject finishes the stop: it moves o1 to stopped")

	e = applystate.Explain(storage.Apply{ID: "a", State: "running"}, rows(row(cp, ""), row(cp, "")))
	require.True(t, e.Stale)
	require.Equal(t, cp, e.State)
	require.Contains(t, e.String(), "stored: running")

	e = applystate.Explain(storage.Apply{ID: "a", State: "completed"}, rows(row(cp, ""), row(cp, "")))
	require.False(t, e.Stale, "the stored apply is the projection")
	e = applystate.Explain(storage.Apply{ID: "a", State: "running"}, nil)
	require.False(t, e.Stale, "without rows the tasks decide: nothing to reproject")
}

// explainKinds are the distinct rows the agreement test combines: every
// state × policy, a started and a never-started pending and stopped row,
// a claimed start, a released pause, and a group's work and finalizer.
func explainKinds() []storage.Operation {
	var out []storage.Operation
	for _, s := range applystate.States() {
		for _, p := range []applystate.Policy{applystate.Halt, applystate.Continue, applystate.Pause, ""} {
			out = append(out, row(s, p))
		}
	}
	out = append(out, claimedRow(), stoppedRan(), releasedPause(), row("bogus", "sometimes"),
		storage.Operation{State: "failed", Group: "g", StartedAt: explainAt},
		storage.Operation{State: "pending", Group: "g", Finalizer: true},
		storage.Operation{State: "stopped", Group: "g", Finalizer: true})
	return out
}

var explainFlags = []storage.Apply{{}, {PauseReleased: true}, {StopRequested: true}, {PauseReleased: true, StopRequested: true}}

// Explain never disagrees with Rollout: over every pair of rows, and
// random lists of three to six, for every flag combination.
func TestExplainAgreesWithRollout(t *testing.T) {
	t.Parallel()
	ks := explainKinds()
	check := func(ops []storage.Operation) {
		for _, a := range explainFlags {
			a.ID, a.State = "a", "running"
			e := applystate.Explain(a, ops)
			want := applystate.Rollout(applystate.Children(ops), flagsOf(a))
			if e.State != want {
				require.Failf(t, "Explain disagrees with Rollout", "%+v %+v: %q vs %q", ops, a, e.State, want)
			}
			checkExplanation(t, e, ops)
		}
	}
	for _, x := range ks {
		for _, y := range ks {
			check(rows(x, y))
		}
	}
	r := rand.New(rand.NewPCG(1, 28))
	for range 20000 {
		ops := make([]storage.Operation, 3+r.IntN(4))
		for i := range ops {
			ops[i] = ks[r.IntN(len(ks))]
		}
		check(rows(ops...))
	}
}

// ruleStates are the states each rule may decide.
var ruleStates = map[applystate.Rule][]S{
	applystate.RuleNoOperations: {pe}, applystate.RuleNotStarted: {pe}, applystate.RuleStarted: {ru},
	applystate.RuleAllCompleted: {cp}, applystate.RuleStopped: {st}, applystate.RuleSettled: {ca, re},
	applystate.RuleHaltDraining: {rd}, applystate.RuleHaltedByFailure: {fa}, applystate.RulePausedByFailure: {pa},
	applystate.RuleFailuresSettled: {fa}, applystate.RuleDegraded: {rd},
}

// checkExplanation checks the rule against the state and the lists
// against the rows: each row in at most one of failed, holding, not
// started and inert; a halt names a halting failure, a pause a pausing one.
func checkExplanation(t *testing.T, e applystate.Explanation, ops []storage.Operation) {
	if want, ok := ruleStates[e.Rule]; ok && !slices.Contains(want, e.State) {
		require.Failf(t, "rule and state disagree", "%s decided %s over %+v", e.Rule, e.State, ops)
	}
	if (e.Rule == applystate.RuleInFlight || e.Rule == applystate.RuleHeldOpenByActive) && e.State.Terminal() {
		require.Failf(t, "an open rule decided a terminal state", "%s: %s over %+v", e.Rule, e.State, ops)
	}
	if (e.Rule == applystate.RuleHaltDraining || e.Rule == applystate.RuleHaltedByFailure) && len(e.Halting) == 0 ||
		e.Rule == applystate.RulePausedByFailure && len(e.Pausing) == 0 {
		require.Failf(t, "a failure rule names no failure", "%+v over %+v", e, ops)
	}
	seen := map[string]bool{}
	for _, ids := range [][]string{e.Failed, e.Holding, e.NotStarted, e.Inert} {
		for _, id := range ids {
			if seen[id] {
				require.Failf(t, "a row in two classes", "%s in %+v", id, e)
			}
			seen[id] = true
		}
	}
}

func TestProjectorExplain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memory.New()
	p, err := applystate.NewProjector(store, store)
	require.NoError(t, err)
	_, _, err = p.CreatePlan(ctx, applystate.Plan{Apply: storage.Apply{ID: "a"}, Operations: []storage.Operation{
		{ID: "x", Seq: 1, OnFailure: "pause"}, {ID: "y", Seq: 2},
	}})
	require.NoError(t, err)
	_, err = p.Drive(ctx, "a", []applystate.Task{{OperationID: "x", State: fa, ErrorMessage: "boom"}})
	require.NoError(t, err)
	e, err := p.Explain(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, applystate.RulePausedByFailure, e.Rule)
	require.Equal(t, pa, e.Stored)
	require.False(t, e.Stale)
	require.Equal(t, []string{"x"}, e.Pausing)

	_, err = p.Explain(ctx, "missing")
	require.True(t, errors.Is(err, storage.ErrNotFound), "%v", err)
	_, err = p.Explain(ctx, "")
	require.True(t, errors.Is(err, storage.ErrInvalid), "%v", err)
	noOps, err := applystate.NewProjector(store, nil)
	require.NoError(t, err)
	_, err = noOps.Explain(ctx, "a")
	require.True(t, errors.Is(err, storage.ErrInvalid), "%v", err)
}

// Explain says why a rollout is paused and what would change it.
func ExampleExplain() {
	apply := storage.Apply{ID: "rollout-1", State: "paused"}
	ops := []storage.Operation{
		{ApplyID: "rollout-1", ID: "us-east", Seq: 1, State: "completed", StartedAt: explainAt},
		{ApplyID: "rollout-1", ID: "eu-west", Seq: 2, State: "failed", OnFailure: "pause", StartedAt: explainAt},
		{ApplyID: "rollout-1", ID: "ap-south", Seq: 3, State: "pending"},
	}
	fmt.Print(applystate.Explain(apply, ops))
	// Output:
	// apply rollout-1 is paused: a failure under pause holds the rollout until ReleasePause
	//   paused by: eu-west
	//   failed: eu-west
	//   not started: ap-south
	//   next: ReleasePause releases eu-west: the apply is then running_degraded
	//   next: Stop ends it: failed
}
