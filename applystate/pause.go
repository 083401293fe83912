package applystate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/statefold/statefold/storage"
)

// ReleasePause releases the failures that hold the rollout and reprojects:
// every failed operation whose policy is pause gets its release recorded
// beside the policy (its row's ReleasedAt is set by compare-and-swap;
// OnFailure stays pause, and its state, error message and timestamps
// stay), and the rollout counts a released failure as continue, so it goes
// on. A row an earlier version released by rewriting OnFailure to continue
// counts the same. A release applies to the failures it released: an
// operation that fails under pause later holds the rollout again, until
// the next ReleasePause. A PauseReleased flag set by an earlier version
// (which released every pause, later ones included) is honored until
// ReleasePause records the failures on their rows and clears it. A
// terminal apply is returned unchanged; Changed reports any write. Retry
// it after an error: it is idempotent.
func (p *Projector) ReleasePause(ctx context.Context, applyID string) (Result, error) {
	return p.onApply(ctx, "ReleasePause", applyID, p.releasePause)
}

// releasePause is ReleasePause once its input is checked.
func (p *Projector) releasePause(ctx context.Context, applyID string) (Result, error) {
	a, err := p.applies.GetApply(ctx, applyID)
	if err != nil {
		return Result{}, fmt.Errorf("applystate: get apply %q: %w", applyID, err)
	}
	if prev := Normalize(a.State); prev.Terminal() {
		return Result{Apply: a, Previous: prev}, nil
	}
	ops, err := p.ops.ListOperations(ctx, applyID)
	if err != nil {
		return Result{}, fmt.Errorf("applystate: list operations of %q: %w", applyID, err)
	}
	wrote := false
	for _, op := range ops {
		w, err := p.releaseOperation(ctx, op)
		if err != nil {
			return Result{}, err
		}
		wrote = wrote || w
	}
	// Only now, with every failure it covered recorded on its row, may the
	// flag go: a crash before this write leaves every pause released.
	return p.setFlagThenReproject(ctx, applyID, clearPauseReleased, wrote)
}

// clearPauseReleased clears the PauseReleased flag an earlier version set
// on a and reports whether that is a change.
func clearPauseReleased(a *storage.Apply) bool {
	if !a.PauseReleased {
		return false
	}
	a.PauseReleased = false
	return true
}

// releasable reports whether op is a failure that ReleasePause releases: a
// failed operation whose policy is pause, not released yet.
func releasable(op storage.Operation) bool {
	return Normalize(op.State) == Failed && policyOf(op.OnFailure) == Pause && op.ReleasedAt.IsZero()
}

// released reports whether op is a pause failure that ReleasePause
// released: its row records the release (ReleasedAt) beside the policy the
// plan declared. An earlier version rewrote the policy to continue
// instead; such a row reads as continue anyway.
func released(op storage.Operation) bool {
	return !op.ReleasedAt.IsZero() && policyOf(op.OnFailure) == Pause
}

// releasedRow is op with its release recorded at now, to be projected
// again: ReleasedAt set, OnFailure as declared.
func releasedRow(op storage.Operation, now time.Time) storage.Operation {
	w := acknowledgedAt(op, op.Version, false)
	w.ReleasedAt, w.UpdatedAt = now, now
	return w
}

// releaseOperation records the release of a releasable operation on its
// row by compare-and-swap, re-reading on a conflict, and reports whether
// it wrote.
func (p *Projector) releaseOperation(ctx context.Context, op storage.Operation) (bool, error) {
	for attempt := 0; attempt < p.cfg.maxAttempts; attempt++ {
		if !releasable(op) {
			return false, nil
		}
		_, err := p.ops.UpdateOperation(ctx, releasedRow(op, p.now()), op.Version)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return false, fmt.Errorf("applystate: release operation %q: %w", op.ID, err)
		}
		id := op.ID
		if op, err = p.ops.GetOperation(ctx, op.ApplyID, id); err != nil {
			return false, fmt.Errorf("applystate: release operation %q: %w", id, err)
		}
	}
	return false, fmt.Errorf("applystate: release operation %q: %d attempts: %w", op.ID, p.cfg.maxAttempts, storage.ErrConflict)
}
