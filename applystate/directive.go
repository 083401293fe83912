package applystate

import (
	"github.com/statefold/statefold/internal/enum"
	"github.com/statefold/statefold/storage"
)

// Directive tells a deployment's drive loop what to do next; see
// [Result.Next].
type Directive int

// The directives.
const (
	// Proceed: go on. A deployment that has not started may start now (its
	// start is claimed and granted: no terminal decision can miss it, and
	// it is never taken back); one that runs carries on. A pending report
	// on a granted start is answered Proceed again unless a stop was
	// requested, paused or halted meanwhile or not: the start was granted
	// before, and the rollout counts it as running.
	Proceed Directive = iota + 1
	// Wait: do not start now; poll again. The rollout is paused (or a
	// claimed start could not be checked yet: Undetermined). Work already
	// running carries on.
	Wait
	// DoNotStart: never start. The apply is terminal, a stop was
	// requested, the rollout is halted by a failure, or this operation is
	// over (settled or stopped). Work already running is not stopped by
	// the directive: after a stop request stop it and report stopped. A
	// deployment whose start was granted (told Proceed) and that never
	// started reports stopped too: its granted start holds the apply until
	// its deployment reports another state than pending.
	DoNotStart
	// Resume: the work may be running — observe it, do not start it
	// again. Only a Drive under a lease that took the operation over
	// ([Lease.Resume]: an earlier owner was granted its start, or it
	// started) gets it, where it would have been told Proceed to a pending
	// report: the earlier owner may have started the work (or died before
	// it did). Find out through the tool that runs the change, with the
	// lease's token, and report what it shows; a started state reported
	// under the same lease is answered Proceed (carry on). Never a second
	// Proceed for one start.
	Resume
)

// String returns "proceed", "wait", "do_not_start" or "resume".
func (d Directive) String() string { return enum.Name("Directive", directiveNames[:], d) }

// directiveNames are the directives' names, by value.
var directiveNames = [...]string{Proceed: "proceed", Wait: "wait", DoNotStart: "do_not_start", Resume: "resume"}

// nextOf is the directive for a deployment whose operation the apply a
// holds, as far as the apply alone tells.
func nextOf(a storage.Apply) Directive {
	switch {
	case Normalize(a.State).Terminal(), a.StopRequested:
		return DoNotStart
	}
	return Proceed
}

// directive is the directive for the deployment of row once the apply is a.
func directive(a storage.Apply, row storage.Operation) Directive {
	s := Normalize(row.State)
	switch {
	case Normalize(a.State).Terminal(), s.Terminal():
		return DoNotStart
	case s != Pending || claimed(row):
		if a.StopRequested {
			return DoNotStart
		}
		return Proceed
	case a.StopRequested:
		return DoNotStart
	case Normalize(a.State) == Paused:
		return Wait
	}
	return DoNotStart
}

// driveDirective is the directive a Drive under l (nil: none) that
// reported current returns once the apply is a and the row is row: a
// claim not yet acknowledged is not granted, so it waits, and a takeover
// of work that may be running resumes.
func driveDirective(a storage.Apply, row storage.Operation, current State, l *Lease) Directive {
	next := directive(a, row)
	if next == Proceed && claimed(row) && !Acknowledged(row) {
		next = Wait
	}
	return resumed(next, current, l, row)
}

// resumed is the directive next for a deployment that reported current
// under l, on row as stored: [Resume] instead of [Proceed] to a pending
// report when l took over work that may be running.
func resumed(next Directive, current State, l *Lease, row storage.Operation) Directive {
	if next == Proceed && current == Pending && resumes(l, row) {
		return Resume
	}
	return next
}
