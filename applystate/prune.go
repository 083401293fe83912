package applystate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/statefold/statefold/storage"
)

// MaxPruneApplies is the most apply ids one [Projector.Prune] call takes.
const MaxPruneApplies = 1000

// PruneReport says what one [Projector.Prune] or [Projector.PruneFinished]
// call did.
type PruneReport struct {
	// Pruned counts applies pruned by this call: every operation deleted
	// and the payload dropped.
	Pruned int
	// Operations counts the operation rows this call deleted.
	Operations int
	// Kept counts applies left as they are: not terminal, completed at or
	// after the cutoff, or (Prune) already pruned.
	Kept int
	// Missing counts ids with no apply row (Prune).
	Missing int
	// Scanned counts the finished-index rows read (PruneFinished).
	Scanned int
	// Cleaned counts finished-index rows removed whose apply was missing
	// or pruned already — by an interrupted call, or by Prune (PruneFinished).
	Cleaned int
	// More reports that PruneFinished stopped at its limit: call again.
	More bool
	// Next is where PruneFinished stopped: the first instant of the UTC
	// day it was reading, or of before's day once it read every day.
	// Pass it as the next call's since.
	Next time.Time
}

// Prune prunes the terminal applies among ids (at most
// [MaxPruneApplies]) that completed before the instant before — pass now
// minus the retention period. The caller names them: applies filed in the
// finished-applies index are found by [Projector.PruneFinished]; Prune is
// for the others (those that finished before the index was kept). For
// each apply read terminal (a terminal state never changes) that
// completed before before (its CompletedAt; a stopped apply's
// UpdatedAt), Prune deletes every
// operation at the version it read (a row rewritten meanwhile — an
// acknowledgement by a Reproject — is read again and deleted at its new
// version) and then drops the apply's payload by compare-and-swap at the
// version read. The apply row stays, terminal, as the id's tombstone: a
// later CreatePlan of the id fails with storage.ErrAlreadyExists, and
// GetApply, Explain and Rollout describe a terminal apply without
// operations. A non-terminal apply is never touched.
//
// Prune keeps no cursor: an apply whose prune stopped (a crash, an error)
// still has its payload, so calling Prune again with its id resumes it.
// Several Prunes at once are safe. Input errors match storage.ErrInvalid;
// a store error ends the call with what it did so far.
func (p *Projector) Prune(ctx context.Context, ids []string, before time.Time) (rep PruneReport, err error) {
	ctx, call := p.start(ctx, "Prune", "", "")
	defer func() { call.EndPruned(rep.Pruned, err, errorType) }()
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if p.ops == nil {
		return rep, storage.Invalid("ops", "nil OperationStore")
	}
	if len(ids) > MaxPruneApplies {
		return rep, storage.Invalid("ids", "%d ids exceed %d", len(ids), MaxPruneApplies)
	}
	if err := storage.ValidateIDs("ids", ids); err != nil {
		return rep, err
	}
	for _, id := range ids {
		out, ops, err := p.pruneApply(ctx, id, before)
		rep.Operations += ops
		switch out {
		case prunePruned:
			rep.Pruned++
		case pruneMissing:
			rep.Missing++
		default:
			rep.Kept++
		}
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// pruneOutcome is what pruneApply did with one apply.
type pruneOutcome int

const (
	pruneKept    pruneOutcome = iota // not terminal, or not due
	prunePruned                      // pruned by this call
	pruneDone                        // pruned already
	pruneMissing                     // no apply row
)

// pruneApply prunes one apply, or says why not, with the number of
// operations it deleted.
func (p *Projector) pruneApply(ctx context.Context, id string, before time.Time) (pruneOutcome, int, error) {
	a, err := p.applies.GetApply(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return pruneMissing, 0, nil
	case err != nil:
		return pruneKept, 0, fmt.Errorf("applystate: prune %q: %w", id, err)
	case !State(a.State).Terminal():
		return pruneKept, 0, nil
	}
	ops, err := p.ops.ListOperations(ctx, id)
	switch {
	case err != nil:
		return pruneKept, 0, fmt.Errorf("applystate: prune %q: list operations: %w", id, err)
	case len(ops) == 0 && a.Payload == nil:
		// Pruned already, whatever the cutoff: the payload drop stamped a
		// later UpdatedAt, which is a stopped apply's completion.
		return pruneDone, 0, nil
	case !prunable(a, before):
		return pruneKept, 0, nil
	}
	for i, op := range ops {
		if err := p.deleteOperation(ctx, op); err != nil {
			return pruneKept, i, err
		}
	}
	a.Payload, a.UpdatedAt = nil, p.stamp(p.now())
	if _, err := p.applies.UpdateApply(ctx, a, a.Version); err != nil && !errors.Is(err, storage.ErrConflict) {
		return pruneKept, len(ops), fmt.Errorf("applystate: prune %q: drop the payload: %w", id, err)
	}
	return prunePruned, len(ops), nil
}

// prunable reports whether the apply a, as read, may be pruned with the
// cutoff before: it is terminal (so it never changes) and it completed
// before the cutoff.
func prunable(a storage.Apply, before time.Time) bool {
	return State(a.State).Terminal() && completion(a).Before(before)
}

// deleteOperation deletes op at its version, reading it again when a
// write moved it on meanwhile; a row already gone is no error.
func (p *Projector) deleteOperation(ctx context.Context, op storage.Operation) error {
	for attempt := 1; ; attempt++ {
		err := p.ops.DeleteOperation(ctx, op.ApplyID, op.ID, op.Version)
		if err == nil || errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if !errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrAmbiguous) || attempt >= 3 {
			return fmt.Errorf("applystate: prune %q: delete operation %q at version %d: %w", op.ApplyID, op.ID, op.Version, err)
		}
		cur, err := p.ops.GetOperation(ctx, op.ApplyID, op.ID)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return nil
		case err != nil:
			return fmt.Errorf("applystate: prune %q: read operation %q: %w", op.ApplyID, op.ID, err)
		}
		op = cur
	}
}
