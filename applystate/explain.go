package applystate

import (
	"context"
	"fmt"
	"slices"

	"github.com/statefold/statefold/storage"
)

// Rule names the step of [Rollout] that decided an apply's state.
type Rule string

// The rules of [Rollout], in the order it tries them.
const (
	// RuleNoOperations: the apply has no operation rows; Rollout says
	// pending, and Drive takes its tasks' states as the apply's.
	RuleNoOperations Rule = "no_operations"
	// RuleNotStarted: every operation is pending and none started.
	RuleNotStarted Rule = "not_started"
	// RuleStarted: Derive over the operations says pending, but one has
	// started or settled, so the apply is running.
	RuleStarted Rule = "started"
	// RuleInFlight: nothing failed and the apply is Derive over every
	// operation, a state that is not terminal.
	RuleInFlight Rule = "in_flight"
	// RuleHeldOpenByActive: Derive over every operation is terminal, but
	// active operations (holding their target, not stopped) keep the
	// apply at Derive over them.
	RuleHeldOpenByActive Rule = "held_open_by_active"
	// RuleAllCompleted: every operation completed.
	RuleAllCompleted Rule = "all_completed"
	// RuleStopped: an operation stopped, nothing failed and nothing is
	// active.
	RuleStopped Rule = "stopped"
	// RuleSettled: an operation was cancelled or reverted, nothing failed
	// and nothing is active.
	RuleSettled Rule = "settled"
	// RuleHaltDraining: a failure under halt stops the rollout from
	// starting anything, and started work still holds its target: the
	// apply is running_degraded until that work settles or stops.
	RuleHaltDraining Rule = "halt_draining"
	// RuleHaltedByFailure: a failure under halt, and no work holds its
	// target: failed.
	RuleHaltedByFailure Rule = "halted_by_failure"
	// RulePausedByFailure: a failure under pause, not released, precedes
	// an unfinished operation: paused until ReleasePause.
	RulePausedByFailure Rule = "paused_by_failure"
	// RuleFailuresSettled: failures under continue (or released or
	// trailing pauses) and nothing unfinished: failed.
	RuleFailuresSettled Rule = "failures_settled"
	// RuleDegraded: failures under continue (or released or trailing
	// pauses) and unfinished operations: the rollout goes on, degraded.
	RuleDegraded Rule = "degraded"
)

// Explanation says why an apply is in its state: the rule of [Rollout]
// that decided, the operations that matter, and what would change it.
// Operation lists hold operation ids in rollout order.
type Explanation struct {
	// ApplyID is the apply's id.
	ApplyID string
	// State is Rollout over the rows with the apply's flags.
	State State
	// Rule is the step of Rollout that decided State.
	Rule Rule
	// Stored is the apply's stored state, normalized.
	Stored State
	// Stale reports that the stored apply is not the projection of its
	// rows, or a stop is unfinished: Reproject (or the next Drive) repairs it.
	Stale bool
	// StopRequested and PauseReleased are the apply's flags.
	StopRequested, PauseReleased bool
	// Failed lists every failed operation; Halting those failed under
	// halt, Pausing those whose unreleased pause holds the rollout (what
	// ReleasePause releases), Released those whose pause was released.
	Failed, Halting, Pausing, Released []string
	// Holding lists the operations holding their target (the apply open):
	// started and unfinished, not inert; Active those of them not stopped.
	Holding, Active []string
	// NotStarted lists the pending operations (or stopped ones that never
	// started) that are not inert; Inert the orphaned finalizers and the
	// operations stopped after a stop request.
	NotStarted, Inert []string
	// ToStop lists the pending operations a requested stop has not moved
	// to stopped yet (Reproject moves them).
	ToStop []string
	// Changes says, in words, what would change the state.
	Changes []string
}

// Explain explains apply's state from its operation rows (in any order),
// with the rules of [Rollout] over [Children] and the apply's flags:
// Explain(a, ops).State is always Rollout's state for them. It reads
// nothing and writes nothing.
func Explain(apply storage.Apply, ops []storage.Operation) Explanation {
	sorted := slices.Clone(ops)
	sortOps(sorted)
	children := Children(sorted)
	f := Flags{PauseReleased: apply.PauseReleased, StopRequested: apply.StopRequested}
	v := decide(children, f)
	e := Explanation{
		ApplyID: apply.ID, State: v.state, Rule: v.rule, Stored: Normalize(apply.State),
		StopRequested: f.StopRequested, PauseReleased: f.PauseReleased,
	}
	e.classify(sorted, children, f)
	for _, op := range stopTodo(apply, sorted) {
		e.ToStop = append(e.ToStop, op.ID)
	}
	e.Stale = len(ops) > 0 && !e.Stored.Terminal() && (e.State != e.Stored || len(e.ToStop) > 0)
	e.Changes = changes(e, children, f)
	return e
}

// Explain reads the apply and its operation rows and explains its state
// (see [Explain]); it writes nothing. The two reads are not one snapshot:
// under concurrent Drives, call again when Stale surprises.
func (p *Projector) Explain(ctx context.Context, applyID string) (Explanation, error) {
	if err := p.check(ctx, applyID, true); err != nil {
		return Explanation{}, err
	}
	a, err := p.applies.GetApply(ctx, applyID)
	if err != nil {
		return Explanation{}, fmt.Errorf("applystate: explain %q: %w", applyID, err)
	}
	ops, err := p.ops.ListOperations(ctx, applyID)
	if err != nil {
		return Explanation{}, fmt.Errorf("applystate: explain %q: list operations: %w", applyID, err)
	}
	return Explain(a, ops), nil
}

// classify files each operation (ops sorted, children = Children(ops))
// under the lists it belongs to.
func (e *Explanation) classify(ops []storage.Operation, children []Child, f Flags) {
	last := -1
	for i, c := range children {
		if c.unfinished(f) {
			last = i
		}
	}
	for i, c := range children {
		id := ops[i].ID
		switch {
		case c.State == Failed:
			e.Failed = append(e.Failed, id)
			e.fileFailure(id, ops[i], c, failureEffect(c, i, last, f), f)
		case c.inert(f):
			e.Inert = append(e.Inert, id)
		case c.pendingLike(f):
			e.NotStarted = append(e.NotStarted, id)
		case c.holds(f):
			e.Holding = append(e.Holding, id)
			if c.active(f) {
				e.Active = append(e.Active, id)
			}
		}
	}
}

// fileFailure files failed operation id by what its policy does.
func (e *Explanation) fileFailure(id string, op storage.Operation, c Child, eff effect, f Flags) {
	switch {
	case eff == effectHalt:
		e.Halting = append(e.Halting, id)
	case eff == effectHold:
		e.Pausing = append(e.Pausing, id)
	case policyOf(op.OnFailure) == Pause && (released(op) || f.PauseReleased || c.OnFailure == Continue):
		e.Released = append(e.Released, id)
	}
}
