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

// granted reports whether op's claimed start was granted: the Drive that
// checked the claim acknowledged it (Projected) before answering Proceed.
// A granted start may be running: it is never given back, only replaced
// by the state its deployment reports.
func granted(op storage.Operation) bool { return claimed(op) && op.Projected }

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
