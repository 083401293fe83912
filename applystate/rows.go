package applystate

import (
	"slices"

	"github.com/statefold/statefold/storage"
)

// The predicates over operation rows that the decisions share.

// claimed reports whether op is pending with a claimed start: its
// StartedAt is set although it has not reported a started state yet.
func claimed(op storage.Operation) bool {
	return Normalize(op.State) == Pending && !op.StartedAt.IsZero()
}

// active reports whether op holds its apply open whatever the other rows
// say: a claimed start, or started work that is neither settled nor
// stopped. [Rollout] is never terminal over a listing that holds an active
// row, so a terminal decision never relies on one: it may change without a
// bump first.
func active(op storage.Operation) bool {
	s := Normalize(op.State)
	return claimed(op) || (s != Pending && s != Stopped && !s.Settled())
}

// Acknowledged reports whether the operation row op is acknowledged: the
// apply has been projected over the row as stored, so a poll of its
// deployment that changes nothing need not read the other operations. An
// acknowledgement holds for the row version its write created
// (ProjectedVersion): a later write by a release that does not know it
// keeps Projected as stored but bumps Version, and un-acknowledges the row.
// Rows written by a release without ProjectedVersion read unacknowledged.
func Acknowledged(op storage.Operation) bool {
	return op.Projected && op.ProjectedVersion == op.Version
}

// acknowledgedAt returns w, to be written over a row stored at version
// expected, acknowledged (ack) or not at the version that write creates.
func acknowledgedAt(w storage.Operation, expected int64, ack bool) storage.Operation {
	w.Projected, w.ProjectedVersion = ack, 0
	if ack {
		w.ProjectedVersion = expected + 1
	}
	return w
}

// carried returns w, a write over row that changes nothing the projection
// reads (a seal, an ownership write), acknowledged at the version it
// creates exactly when row is acknowledged.
func carried(w, row storage.Operation) storage.Operation {
	return acknowledgedAt(w, row.Version, Acknowledged(row))
}

// granted reports whether op's claimed start was granted: the Drive that
// checked the claim acknowledged it ([Acknowledged]) before answering
// Proceed. A granted start may be running: it is never given back, only
// replaced by the state its deployment reports.
func granted(op storage.Operation) bool { return claimed(op) && Acknowledged(op) }

// unclaimed reports whether op is pending and nobody claimed its start.
func unclaimed(op storage.Operation) bool {
	return Normalize(op.State) == Pending && op.StartedAt.IsZero()
}

// begun reports whether op may have work running for it: it started (a
// state other than pending and stopped) or holds a granted start.
func begun(op storage.Operation) bool {
	s := Normalize(op.State)
	return (s != Pending && s != Stopped) || granted(op)
}

// mayMove reports whether an operation row in state from may be written
// with state to: a settled operation never changes again, a stopped one
// only moves on to a settled state (reporting stopped again changes
// nothing, StartedAt included), and a started one never returns to pending.
func mayMove(from, to State) bool {
	switch {
	case from.Settled():
		return false
	case from == Stopped:
		return to.Settled()
	case from != Pending && to == Pending:
		return false
	}
	return true
}

// halted reports whether a failure under the halt policy stops the rollout
// from starting anything new.
func halted(ops []storage.Operation) bool {
	for _, c := range Children(ops) {
		if c.State == Failed && c.OnFailure != Continue && c.OnFailure != Pause {
			return true
		}
	}
	return false
}

// orphaned reports whether op is a finalizer that can never run: a work
// operation (not a finalizer) of its group failed. Its start is never
// claimed (see [Children]: a pending orphaned finalizer is inert).
func orphaned(op storage.Operation, ops []storage.Operation) bool {
	if !op.Finalizer || op.Group == "" {
		return false
	}
	return slices.ContainsFunc(ops, func(o storage.Operation) bool {
		return o.Group == op.Group && !o.Finalizer && Normalize(o.State) == Failed
	})
}

// sameRow reports whether a write of next over row would change nothing
// Drive writes.
func sameRow(next, row storage.Operation) bool {
	return next.State == row.State && next.ErrorMessage == row.ErrorMessage &&
		next.StartedAt.Equal(row.StartedAt) && next.CompletedAt.Equal(row.CompletedAt)
}
