package applystate

import (
	"strings"

	"github.com/statefold/statefold/storage"
)

// State is the state of a task, an operation or an apply.
type State string

// The state vocabulary. Drive loops report task states; [Derive] turns
// them into an operation's state and [Rollout] the operations' into the
// apply's. The middle of the list are the phases of an online schema
// migration (copy, checksum, cutover, revert window), which a migration
// tool's drive loop reports and which the other states pass through.
const (
	// Pending: not started. Every operation and apply begins here; a
	// pending operation with StartedAt set has a claimed start and counts
	// as running.
	Pending State = "pending"
	// Running: work in flight. Reported by drive loops; an apply is running
	// once an operation started or settled and nothing failed.
	Running State = "running"
	// RunningDegraded: an operation failed but the rollout goes on (its
	// policy is continue, or started work still holds its target after a
	// halt). Set on applies by [Rollout]; a task may report it too.
	RunningDegraded State = "running_degraded"
	// Paused: a failure under the pause policy holds the rollout until
	// [Projector.ReleasePause]. Set on applies by [Rollout]; a task may
	// report it too.
	Paused State = "paused"
	// CatchingUp: a migration's copy catches up with writes made during
	// the copy (post-copy phase). Reported by drive loops.
	CatchingUp State = "catching_up"
	// Checksumming: a migration verifies the copy (post-copy phase).
	// Reported by drive loops.
	Checksumming State = "checksumming"
	// PostChecksum: the checksum is done, the cutover not yet started
	// (post-copy phase). Reported by drive loops.
	PostChecksum State = "post_checksum"
	// WaitingForDeploy: the work is ready and waits for the deployment
	// step. Reported by drive loops.
	WaitingForDeploy State = "waiting_for_deploy"
	// WaitingForCutover: the work is ready and waits for the cutover.
	// Reported by drive loops.
	WaitingForCutover State = "waiting_for_cutover"
	// Recovering: the cutover is being retried or recovered (also reported
	// as "recovering_cutover"). Reported by drive loops.
	Recovering State = "recovering"
	// CuttingOver: the switch to the new state is in progress. Reported by
	// drive loops.
	CuttingOver State = "cutting_over"
	// RevertWindow: the cutover is done and can still be reverted.
	// Reported by drive loops.
	RevertWindow State = "revert_window"
	// Reverting: a revert is in progress. Reported by drive loops.
	Reverting State = "reverting"
	// Completed: the work is done for good (terminal, settled). An apply
	// is completed when every operation completed.
	Completed State = "completed"
	// Failed: the work failed for good (terminal, settled). An apply is
	// failed when its failures and policies say the rollout is over; see
	// [Rollout].
	Failed State = "failed"
	// FailedRetryable: the work failed and may be retried; not terminal.
	// Reported by drive loops.
	FailedRetryable State = "failed_retryable"
	// Stopped: stopped on request (terminal, not settled: a stopped
	// operation may still settle). Set on pending operations by
	// [Projector.Stop], reported by drive loops that stopped their work,
	// and set on an apply whose stop completed with no failure.
	Stopped State = "stopped"
	// Cancelled: cancelled for good (terminal, settled). Reported by drive
	// loops.
	Cancelled State = "cancelled"
	// Reverted: reverted for good (terminal, settled). Reported by drive
	// loops.
	Reverted State = "reverted"
)

// numStates is the size of the vocabulary; index maps a state to 0..numStates-1.
const numStates = 19

// index returns the position of s in the vocabulary, or -1.
func index(s State) int {
	switch s {
	case Pending:
		return 0
	case Running:
		return 1
	case RunningDegraded:
		return 2
	case Paused:
		return 3
	case CatchingUp:
		return 4
	case Checksumming:
		return 5
	case PostChecksum:
		return 6
	case WaitingForDeploy:
		return 7
	case WaitingForCutover:
		return 8
	case Recovering:
		return 9
	case CuttingOver:
		return 10
	case RevertWindow:
		return 11
	case Reverting:
		return 12
	case Completed:
		return 13
	case Failed:
		return 14
	case FailedRetryable:
		return 15
	case Stopped:
		return 16
	case Cancelled:
		return 17
	case Reverted:
		return 18
	}
	return -1
}

// States returns the whole vocabulary.
func States() []State {
	return []State{
		Pending, Running, RunningDegraded, Paused, CatchingUp, Checksumming, PostChecksum,
		WaitingForDeploy, WaitingForCutover, Recovering, CuttingOver, RevertWindow, Reverting,
		Completed, Failed, FailedRetryable, Stopped, Cancelled, Reverted,
	}
}

// Terminal reports whether s is final: completed, failed, stopped,
// cancelled or reverted. failed_retryable is not terminal.
func (s State) Terminal() bool {
	switch s {
	case Completed, Failed, Stopped, Cancelled, Reverted:
		return true
	}
	return false
}

// Settled reports whether s is terminal and not stopped: the work it
// describes is over for good.
func (s State) Settled() bool { return s.Terminal() && s != Stopped }

// Valid reports whether s is in the vocabulary (exactly, lower case).
func (s State) Valid() bool { return index(s) >= 0 }

// lookup maps s, case-insensitively and with the aliases complete and
// recovering_cutover, to a state of the vocabulary.
func lookup(s string) (State, bool) {
	st := State(strings.ToLower(strings.TrimSpace(s)))
	switch st {
	case "complete":
		return Completed, true
	case "recovering_cutover":
		return Recovering, true
	}
	return st, index(st) >= 0
}

// Normalize maps a stored or reported state to the vocabulary:
// case-insensitive, "complete" is completed, "recovering_cutover" is
// recovering, and anything unknown is pending (which never terminalizes).
func Normalize(s string) State {
	if st, ok := lookup(s); ok {
		return st
	}
	return Pending
}

// Parse is the strict Normalize: an unknown state is an error matching
// storage.ErrInvalid.
func Parse(s string) (State, error) {
	if st, ok := lookup(s); ok {
		return st, nil
	}
	return "", storage.Invalid("state", "unknown state %q", s)
}

// Policy says what a rollout does when an operation fails.
type Policy string

// The failure policies.
const (
	// Halt (the default, also for an empty or unknown policy) fails the
	// rollout: nothing new starts, and the apply is failed once no started
	// work is still in flight.
	Halt Policy = "halt"
	// Continue lets the rollout go on, degraded; the apply ends failed once
	// everything has settled.
	Continue Policy = "continue"
	// Pause holds the rollout (the apply is paused) while later operations
	// are unfinished, until ReleasePause releases the failure: a released
	// pause is Continue. A release covers the failures it released; a
	// later failure under Pause holds again.
	Pause Policy = "pause"
)

// ParsePolicy maps a stored policy to a [Policy], case-insensitively; empty
// is Halt and anything unknown is an error matching storage.ErrInvalid.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(strings.ToLower(strings.TrimSpace(s))); p {
	case "":
		return Halt, nil
	case Halt, Continue, Pause:
		return p, nil
	}
	return "", storage.Invalid("policy", "unknown failure policy %q", s)
}

// policyOf is ParsePolicy that treats unknown policies as Halt, the safe
// choice when reading stored rows.
func policyOf(s string) Policy {
	if p, err := ParsePolicy(s); err == nil {
		return p
	}
	return Halt
}
