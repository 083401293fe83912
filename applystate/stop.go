package applystate

import (
	"context"
	"errors"
	"fmt"

	"github.com/statefold/statefold/storage"
)

// finishStop moves the unclaimed pending operations of an apply whose stop
// was requested to stopped — what an interrupted Stop left undone — and
// reports whether it wrote, in which case the caller reads the apply and
// lists the operations again. a was read before ops were listed; as for any
// row that is not active, the apply is bumped first (see [Projector.bump]),
// and a row that changed since the listing ends the pass: the caller reads
// and lists again.
func (p *Projector) finishStop(ctx context.Context, a storage.Apply, ops []storage.Operation) (bool, error) {
	if !a.StopRequested {
		return false, nil
	}
	var todo []storage.Operation
	for _, op := range ops {
		if unclaimed(op) {
			todo = append(todo, op)
		}
	}
	if len(todo) == 0 {
		return false, nil
	}
	_, lost, err := p.bump(ctx, a)
	if err != nil {
		return false, err
	}
	if lost {
		// Another write moved the apply on — perhaps to terminal: no row
		// moves on this listing. The next round reads the apply again.
		return true, nil
	}
	for _, op := range todo {
		moved, err := p.stopOperation(ctx, op)
		if err != nil {
			return false, err
		}
		if !moved {
			break
		}
	}
	return true, nil
}

// stopOperation moves one unclaimed pending operation, as listed, to
// stopped by compare-and-swap; it reports false when the row changed since
// the listing (it is read again with the next listing).
func (p *Projector) stopOperation(ctx context.Context, op storage.Operation) (bool, error) {
	w := op
	w.State, w.UpdatedAt, w.Projected = string(Stopped), p.now(), false
	_, err := p.ops.UpdateOperation(ctx, w, op.Version)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, storage.ErrConflict):
		return false, nil
	}
	return false, fmt.Errorf("applystate: stop operation %q: %w", op.ID, err)
}
