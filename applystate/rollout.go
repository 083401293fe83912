package applystate

import (
	"cmp"
	"slices"

	"github.com/statefold/statefold/storage"
)

// Child is one operation as the rollout sees it.
type Child struct {
	// State is the operation's state.
	State State
	// OnFailure is its failure policy as the rollout applies it: empty or
	// unknown is Halt, and a released pause (see [Children]) is Continue.
	OnFailure Policy
	// Started reports that the operation has ever left pending.
	Started bool
	// Orphaned marks a finalizer that can never run: it is pending-like and
	// a work operation of its group failed. Orphaned children are inert.
	Orphaned bool
}

// Flags are the apply-level requests that change the projection.
type Flags struct {
	// PauseReleased turns every pause policy into continue. The Projector
	// does not set it (ReleasePause records each failure it releases on
	// the operation's row instead); it honors the flag on an apply where
	// an earlier version set it.
	PauseReleased bool
	// StopRequested makes stopped children inert, started or not: a
	// requested stop is final, so a stopped child no longer holds its
	// target.
	StopRequested bool
}

// The child classes of the rollout rules.
func (c Child) neverStartedStop() bool { return c.State == Stopped && !c.Started }

func (c Child) inert(f Flags) bool {
	return c.Orphaned || (f.StopRequested && c.State == Stopped)
}

func (c Child) pendingLike(f Flags) bool {
	return !c.inert(f) && (c.State == Pending || c.neverStartedStop())
}

// holds: started work still holding its target (not settled, not
// pending-like, not inert), a started-and-stopped child included.
func (c Child) holds(f Flags) bool {
	return !c.State.Settled() && !c.pendingLike(f) && !c.inert(f)
}

func (c Child) unfinished(f Flags) bool { return !c.State.Settled() && !c.inert(f) }

// active: holds its target and is not stopped — work in flight.
func (c Child) active(f Flags) bool { return c.holds(f) && c.State != Stopped }

// Rollout returns the apply's state from its children, given in rollout
// order (see [Children]):
//
//  1. No children → pending. base = Derive(every child's state).
//  2. base not failed: if base is terminal but some child is still active
//     (holds its target and is not stopped), the result is Derive over the
//     active children — the apply never terminalizes while work is in
//     flight. If base is pending but some child has started or settled,
//     the result is running. Otherwise base.
//  3. base failed: each failed child, in order, applies its policy — halt
//     (or unknown) is a hard fail; an unreleased pause holds the rollout if
//     a later child is unfinished; continue or a released pause does
//     nothing. Then: hard fail → running_degraded while any child holds its
//     target, else failed; a pause hold → paused; no unfinished child →
//     failed; otherwise running_degraded.
//
// A child is pending-like when pending, or stopped without having started.
// A child is inert when orphaned, or stopped once StopRequested is set
// (started or not: a requested stop is final). A child holds its target
// when it is neither settled, pending-like nor inert (without
// StopRequested a started-and-stopped child holds: it may be resumed); it
// is unfinished when neither settled nor inert. So a stop requested over
// failed work settles the apply, failed, once every started child has
// settled or stopped.
// Rollout does not allocate. [Explain] names the rule that decided.
func Rollout(children []Child, f Flags) State { return decide(children, f).state }

// verdict is the state Rollout decides and the rule that decided it.
type verdict struct {
	state State
	rule  Rule
}

// decide is Rollout's one implementation of the rules, shared with Explain.
func decide(children []Child, f Flags) verdict {
	if len(children) == 0 {
		return verdict{Pending, RuleNoOperations}
	}
	var all counts
	for _, c := range children {
		all.add(c.State)
	}
	base := all.derive()
	if base == Failed {
		return decideFailed(children, f)
	}
	if base.Terminal() {
		var act counts
		for _, c := range children {
			if c.active(f) {
				act.add(c.State)
			}
		}
		if act.n > 0 {
			return verdict{act.derive(), RuleHeldOpenByActive}
		}
	}
	if base == Pending {
		for _, c := range children {
			if c.Started || c.State.Settled() {
				return verdict{Running, RuleStarted}
			}
		}
		return verdict{Pending, RuleNotStarted}
	}
	return verdict{base, baseRule(base)}
}

// baseRule is the rule of a state that Derive over every child decided.
func baseRule(base State) Rule {
	switch base {
	case Completed:
		return RuleAllCompleted
	case Stopped:
		return RuleStopped
	case Cancelled, Reverted:
		return RuleSettled
	}
	return RuleInFlight
}

// decideFailed is Rollout when a child failed (rule 3): one pass for the
// classes, one for the policies. A pause holds when a later child is
// unfinished, i.e. when it precedes the last unfinished child (linear even
// with many failed pause children).
func decideFailed(children []Child, f Flags) verdict {
	anyHolds, lastUnfinished := false, -1
	for i, c := range children {
		anyHolds = anyHolds || c.holds(f)
		if c.unfinished(f) {
			lastUnfinished = i
		}
	}
	hard, hold := false, false
	for i, c := range children {
		if c.State != Failed {
			continue
		}
		switch failureEffect(c, i, lastUnfinished, f) {
		case effectHalt:
			hard = true
		case effectHold:
			hold = true
		}
	}
	switch {
	case hard && anyHolds:
		return verdict{RunningDegraded, RuleHaltDraining}
	case hard:
		return verdict{Failed, RuleHaltedByFailure}
	case hold:
		return verdict{Paused, RulePausedByFailure}
	case lastUnfinished < 0:
		return verdict{Failed, RuleFailuresSettled}
	}
	return verdict{RunningDegraded, RuleDegraded}
}

// The effects of a failed child's policy on the rollout.
type effect int

const (
	effectNone effect = iota // continue, a released pause, or a pause with nothing unfinished after it
	effectHalt               // halt (or unknown): a hard fail
	effectHold               // an unreleased pause before the last unfinished child
)

// failureEffect is what failed child c, at position i, does to the
// rollout whose last unfinished child is at lastUnfinished (-1: none).
func failureEffect(c Child, i, lastUnfinished int, f Flags) effect {
	switch c.OnFailure {
	case Continue:
		return effectNone
	case Pause:
		if !f.PauseReleased && i < lastUnfinished {
			return effectHold
		}
		return effectNone
	}
	return effectHalt
}

// Children returns the children of an apply from its operation rows,
// ordered by (Seq, ID). States are normalized ([Normalize]) and policies
// parsed leniently (unknown is Halt); a pause operation whose failure
// [Projector.ReleasePause] released (its ReleasedAt is set; OnFailure still
// says pause) is Continue, as is a row an earlier version released by
// rewriting its OnFailure to continue. A pending operation whose StartedAt is
// set has a claimed start (see [Projector.Drive]) and counts as running. An
// operation has Started when its StartedAt is set or its state is neither
// pending nor stopped. A finalizer
// is Orphaned when it is pending (or stopped without having started) and a
// non-finalizer operation of its (non-empty) Group has failed.
func Children(ops []storage.Operation) []Child {
	sorted := slices.Clone(ops)
	sortOps(sorted)
	failedGroups := make(map[string]bool)
	for _, op := range sorted {
		if op.Group != "" && !op.Finalizer && Normalize(op.State) == Failed {
			failedGroups[op.Group] = true
		}
	}
	out := make([]Child, len(sorted))
	for i, op := range sorted {
		s := Normalize(op.State)
		if claimed(op) {
			s = Running // a claimed start counts as running
		}
		c := Child{
			State:     s,
			OnFailure: policyOf(op.OnFailure),
			Started:   !op.StartedAt.IsZero() || (s != Pending && s != Stopped),
		}
		if released(op) {
			c.OnFailure = Continue
		}
		c.Orphaned = op.Finalizer && failedGroups[op.Group] && (s == Pending || c.neverStartedStop())
		out[i] = c
	}
	return out
}

// sortOps orders operations by (Seq, ID) in place.
func sortOps(ops []storage.Operation) {
	slices.SortFunc(ops, func(a, b storage.Operation) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.ID, b.ID))
	})
}
