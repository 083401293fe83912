package applystate

import (
	"context"
	"errors"
	"fmt"

	"github.com/statefold/statefold/storage"
)

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

// releasePause releases the failed pause operations of a non-terminal
// apply (each row's ReleasedAt set, by compare-and-swap, its OnFailure
// left as declared), clears a PauseReleased flag set by an earlier
// version, and reprojects.
func (p *Projector) releasePause(ctx context.Context, applyID string) (Result, error) {
	if err := p.check(ctx, applyID, true); err != nil {
		return Result{}, err
	}
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
	before, cleared, err := p.setFlag(ctx, applyID, func(a *storage.Apply) bool {
		if !a.PauseReleased {
			return false
		}
		a.PauseReleased = false
		return true
	})
	if err != nil {
		return Result{}, err
	}
	if prev := Normalize(before.State); prev.Terminal() {
		return Result{Apply: before, Previous: prev, Changed: wrote}, nil
	}
	res, err := p.reproject(ctx, applyID)
	res.Changed = res.Changed || wrote || cleared
	return res, err
}

// releaseOperation records the release of a failed pause operation on its
// row (ReleasedAt; OnFailure stays pause), re-reading on a conflict, and
// reports whether it wrote.
func (p *Projector) releaseOperation(ctx context.Context, op storage.Operation) (bool, error) {
	for attempt := 0; attempt < p.cfg.maxAttempts; attempt++ {
		if !releasable(op) {
			return false, nil
		}
		w := op
		now := p.now()
		w.ReleasedAt, w.UpdatedAt, w.Projected = now, now, false
		_, err := p.ops.UpdateOperation(ctx, w, op.Version)
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
