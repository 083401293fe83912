package applystate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/statefold/statefold/storage"
)

// Stop requests a stop: it sets StopRequested (compare-and-swap) and
// reprojects, which moves every unclaimed pending operation to stopped
// (compare-and-swap each) before it projects. Operations already started or
// claimed are left to their drive loops; once StopRequested is set a
// stopped operation, started or not, no longer holds its target, so the
// apply settles when every started operation has stopped or settled:
// stopped, or failed when an operation failed. A terminal apply is returned
// unchanged. Stop is idempotent: retry it after an error (Reproject finishes
// an interrupted Stop too).
func (p *Projector) Stop(ctx context.Context, applyID string) (Result, error) {
	return p.onApply(ctx, "Stop", applyID, func(ctx context.Context, applyID string) (Result, error) {
		return p.setFlagThenReproject(ctx, applyID, requestStop, false)
	})
}

// setFlagThenReproject is the end of Stop and ReleasePause: it sets a flag
// of the apply with set (see [Projector.setFlag]) and reprojects, unless
// the apply is terminal. wrote reports the caller's earlier writes, which
// Changed counts too.
func (p *Projector) setFlagThenReproject(ctx context.Context, applyID string, set func(*storage.Apply) bool, wrote bool) (Result, error) {
	before, flagged, err := p.setFlag(ctx, applyID, set)
	if err != nil {
		return Result{}, err
	}
	if prev := Normalize(before.State); prev.Terminal() {
		return Result{Apply: before, Previous: prev, Changed: wrote}, nil
	}
	res, err := p.reproject(ctx, applyID)
	res.Changed = res.Changed || wrote || flagged
	return res, err
}

// requestStop sets StopRequested on a and reports whether that is a
// change.
func requestStop(a *storage.Apply) bool {
	if a.StopRequested {
		return false
	}
	a.StopRequested = true
	return true
}

// stopTodo returns the rows of ops a requested stop moves to stopped: the
// unclaimed pending ones, once a (read before ops were listed) holds
// StopRequested.
func stopTodo(a storage.Apply, ops []storage.Operation) []storage.Operation {
	if !a.StopRequested {
		return nil
	}
	var todo []storage.Operation
	for _, op := range ops {
		if unclaimed(op) {
			todo = append(todo, op)
		}
	}
	return todo
}

// stoppedRow is op moved to stopped at now, to be projected again.
func stoppedRow(op storage.Operation, now time.Time) storage.Operation {
	w := acknowledgedAt(op, op.Version, false)
	w.State, w.UpdatedAt = string(Stopped), now
	return w
}

// finishStop moves todo, the rows [stopTodo] picked from a listing made
// after a was read, to stopped — what an interrupted Stop left undone. As
// for any row that is not active, the apply is bumped first (see
// [Projector.bump]), and a row that changed since the listing ends the
// pass; either way the caller reads the apply and lists again.
func (p *Projector) finishStop(ctx context.Context, a storage.Apply, todo []storage.Operation) error {
	_, lost, err := p.bump(ctx, a)
	if err != nil {
		return err
	}
	if lost {
		// Another write moved the apply on — perhaps to terminal: no row
		// moves on this listing. The next round reads the apply again.
		return nil
	}
	for _, op := range todo {
		moved, err := p.stopOperation(ctx, op)
		if err != nil || !moved {
			return err
		}
	}
	return nil
}

// stopOperation moves one unclaimed pending operation, as listed, to
// stopped by compare-and-swap; it reports false when the row changed since
// the listing (it is read again with the next listing).
func (p *Projector) stopOperation(ctx context.Context, op storage.Operation) (bool, error) {
	_, err := p.ops.UpdateOperation(ctx, stoppedRow(op, p.now()), op.Version)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, storage.ErrConflict):
		return false, nil
	}
	return false, fmt.Errorf("applystate: stop operation %q: %w", op.ID, err)
}
