package applystate

import (
	"fmt"
	"slices"
	"strings"
)

// Describe says in a few words what the rule means.
func (r Rule) Describe() string {
	switch r {
	case RuleNoOperations:
		return "no operation rows: the drive loops' reports are the apply's state"
	case RuleNotStarted:
		return "no operation has started"
	case RuleStarted:
		return "an operation started or settled, the others are pending"
	case RuleInFlight:
		return "nothing failed; the state of the operations together"
	case RuleHeldOpenByActive:
		return "the operations say it is over, but active work still holds its target"
	case RuleAllCompleted:
		return "every operation completed"
	case RuleStopped:
		return "an operation stopped and nothing is in flight"
	case RuleSettled:
		return "an operation was cancelled or reverted and nothing is in flight"
	case RuleHaltDraining:
		return "a failure under halt: nothing new starts, started work still holds its target"
	case RuleHaltedByFailure:
		return "a failure under halt, and no work holds its target"
	case RulePausedByFailure:
		return "a failure under pause holds the rollout until ReleasePause"
	case RuleFailuresSettled:
		return "failures the rollout went on past, and nothing left unfinished"
	case RuleDegraded:
		return "failures the rollout goes on past, with operations unfinished"
	}
	return string(r)
}

// changes says what would change the state e explains; children and f are
// what e was decided from.
func changes(e Explanation, children []Child, f Flags) []string {
	var out []string
	if len(e.ToStop) > 0 {
		out = append(out, "Reproject finishes the stop: it moves "+idList(e.ToStop)+" to stopped")
	}
	if e.Stale && e.State != e.Stored {
		out = append(out, fmt.Sprintf("Reproject (or the next Drive) writes %s over the stored %s", e.State, e.Stored))
	}
	if e.Stored.Terminal() {
		return append(out, "nothing: the apply is terminal and its rows no longer change")
	}
	switch e.Rule {
	case RuleNoOperations:
		out = append(out, "the next Drive sets the state its tasks report")
	case RuleNotStarted:
		out = append(out, "the first start of an operation makes it running")
	case RuleStarted, RuleInFlight:
		out = append(out, "it completes once every operation completes; a failure acts by its policy")
	case RuleHeldOpenByActive:
		out = append(out, "it is over once "+idList(e.Active)+" settle or stop")
	case RuleHaltDraining:
		out = append(out, "halted by "+idList(e.Halting)+": it is failed once "+idList(e.Holding)+" settle or stop")
	case RulePausedByFailure:
		released := decide(children, Flags{PauseReleased: true, StopRequested: f.StopRequested}).state
		out = append(out, fmt.Sprintf("ReleasePause releases %s: the apply is then %s", idList(e.Pausing), released))
	case RuleDegraded:
		out = append(out, "it is failed once "+idList(slices.Concat(e.Holding, e.NotStarted))+" settle")
	}
	if len(children) > 0 && !f.StopRequested && !e.State.Terminal() {
		out = append(out, stopChange(e, children))
	}
	return out
}

// stopChange says what a Stop would make of the apply now.
func stopChange(e Explanation, children []Child) string {
	stopped := slices.Clone(children)
	for i, c := range stopped {
		if c.State == Pending && !c.Started {
			stopped[i].State = Stopped
		}
	}
	s := decide(stopped, Flags{PauseReleased: e.PauseReleased, StopRequested: true}).state
	if s.Terminal() {
		return fmt.Sprintf("Stop ends it: %s", s)
	}
	return fmt.Sprintf("Stop makes it %s until %s stop or settle", s, idList(e.Active))
}

// String explains the state in a few lines: the state and its rule, the
// stored state when it differs, the operations that matter and what would
// change it.
func (e Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apply %s is %s: %s\n", e.ApplyID, e.State, e.Rule.Describe())
	if e.Stored != e.State {
		fmt.Fprintf(&b, "  stored: %s\n", e.Stored)
	}
	if e.StopRequested {
		b.WriteString("  stop requested\n")
	}
	for _, l := range []struct {
		name string
		ids  []string
	}{
		{"halted by", e.Halting}, {"paused by", e.Pausing}, {"failed", e.Failed}, {"released", e.Released},
		{"holding it open", e.Holding}, {"not started", e.NotStarted}, {"inert", e.Inert},
	} {
		if len(l.ids) > 0 {
			fmt.Fprintf(&b, "  %s: %s\n", l.name, idList(l.ids))
		}
	}
	for _, c := range e.Changes {
		fmt.Fprintf(&b, "  next: %s\n", c)
	}
	return b.String()
}

// idList joins ids for a sentence.
func idList(ids []string) string {
	if len(ids) == 0 {
		return "nothing"
	}
	return strings.Join(ids, ", ")
}
