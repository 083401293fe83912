package applystate

import (
	"errors"
	"slices"
	"time"

	"github.com/statefold/statefold/storage"
)

// The decisions of a Drive of an operation: what to write, from what was
// read. Each is a pure function of its arguments (the clock is passed in,
// and read only where a timestamp is written); drive.go
// performs them.

// mayBeHalted reports whether a Drive must list the operations before it
// claims a start: a pending report on a row not granted, of a
// running_degraded apply without a stop request, whose rollout a failure
// may halt (only the rows tell) — unless noClaim already says so.
func mayBeHalted(current State, row storage.Operation, a storage.Apply, noClaim bool) bool {
	return current == Pending && Normalize(row.State) == Pending && !granted(row) && !noClaim &&
		!a.StopRequested && Normalize(a.State) == RunningDegraded
}

// reportRow returns row as the fresh report rep asks for, following the
// rules of [mayMove]. A pending report on an unclaimed row of an open
// apply (no stop requested, not paused, not halted: noClaim) claims the
// start; on a claim not yet granted of an apply that is not open it gives
// the claim back, as stopped once a stop was requested. A granted claim is
// kept. now is read only when a timestamp is set.
func reportRow(row storage.Operation, a storage.Apply, rep report, noClaim bool, now func() time.Time) storage.Operation {
	next := row
	if rep.state == Pending {
		closed := noClaim || a.StopRequested || Normalize(a.State) == Paused
		switch {
		case unclaimed(row) && !closed:
			next.StartedAt = now() // claim the start
		case claimed(row) && !Acknowledged(row) && closed:
			// Never answered Proceed, so the deployment has not started.
			next.StartedAt = time.Time{}
			if a.StopRequested {
				next.State = string(Stopped)
			}
		}
		return next
	}
	if !mayMove(Normalize(row.State), rep.state) {
		return row
	}
	next.State = string(rep.state)
	if rep.failed {
		next.ErrorMessage = rep.failMsg
	}
	t := now()
	if next.StartedAt.IsZero() {
		next.StartedAt = t
	}
	if rep.state.Settled() && next.CompletedAt.IsZero() {
		next.CompletedAt = t
	}
	return next
}

// projection is what a Drive's round decides over a listing.
type projection struct {
	missing  bool                // the listing lacks the row: refuse
	giveBack bool                // the row's claim read a stop, a pause or a halt
	state    State               // the projected state
	msg      string              // the apply's error message
	ops      []storage.Operation // the listing, row folded in, in rollout order
}

// projectOver folds row over its listed version in ops — unless the
// listing holds a later write of it — and projects the apply b over the
// result. A claim not yet granted that reads a stop, a pause or a halt —
// on the apply, or in its own listing: a pause or halt whose apply write
// has not landed yet — is given back, and so is the claim of a finalizer
// its listing shows orphaned. ops is reordered in place.
func projectOver(ops []storage.Operation, row storage.Operation, b storage.Apply) projection {
	i := slices.IndexFunc(ops, func(op storage.Operation) bool { return op.ID == row.ID })
	if i < 0 {
		return projection{missing: true}
	}
	if ops[i].Version <= row.Version {
		ops[i] = row
	}
	mine := ops[i]
	s, msg := rollout(ops, b) // sorts ops
	if claimed(mine) && !Acknowledged(mine) && (b.StopRequested || Normalize(b.State) == Paused || s == Paused || halted(ops) || orphaned(mine, ops)) {
		return projection{giveBack: true}
	}
	return projection{state: s, msg: msg, ops: ops}
}

// ackVersion is the acknowledgement version of a Drive's round: the apply
// version first read after the row was written. The apply write at that
// version is forced — it bumps the version even when the projection is
// unchanged — because that version may predate the row, and a write
// computed from an older listing could still land at it. Any later
// version was written after the row, so every write computed from it
// lists the row.
type ackVersion struct{ at int64 }

func newAckVersion() *ackVersion { return &ackVersion{at: -1} }

// forces reports whether the write over a must be forced; the first apply
// it sees sets the acknowledgement version.
func (v *ackVersion) forces(a storage.Apply) bool {
	if v.at < 0 {
		v.at = a.Version
	}
	return a.Version == v.at
}

// acknowledges reports whether the row may be acknowledged after the
// projection res: an apply write landed at the acknowledgement version,
// or the apply is past it, and the apply is open.
func (v *ackVersion) acknowledges(res Result) bool {
	return (res.Changed || res.Apply.Version > v.at) && !res.Undetermined && !Normalize(res.Apply.State).Terminal()
}

// ackStep is what a Drive does after acknowledging its row.
type ackStep int

const (
	ackIgnored ackStep = iota // not acknowledged; nothing depends on it
	ackLanded                 // acknowledged
	ackReread                 // read the row and the apply again, new round
	ackFailed                 // return the error: a claim not known granted
)

// afterAcknowledge decides on the outcome err of acknowledging row (leased:
// under a lease). A conflict on a claim — given back by a loop that read a
// stop, a pause or a halt, or granted by another — or on a leased row (it
// may have been acquired since) reads again; any other failure of a claim
// means the start is not granted: no Proceed, the next poll checks it.
func afterAcknowledge(row storage.Operation, leased bool, err error) ackStep {
	switch {
	case err == nil:
		return ackLanded
	case (claimed(row) || leased) && errors.Is(err, storage.ErrConflict):
		return ackReread
	case claimed(row):
		return ackFailed
	}
	return ackIgnored
}
