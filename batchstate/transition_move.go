package batchstate

import (
	"context"
	"errors"

	"github.com/statefold/statefold/internal/hook"
	"github.com/statefold/statefold/storage"
)

// moverOf returns the one-statement move of the stores an Orchestrator is
// given (see [storage.Mover]), if they are one store that offers it; nil
// otherwise (two stores cannot be written by one statement). With hooks,
// its conflicts and ambiguous outcomes are reported like the other
// writes'.
func moverOf(batches storage.BatchStore, members storage.MembershipStore, cfg config) storage.Mover {
	mv, ok := batches.(storage.Mover)
	if !ok || !sameStore(batches, members) {
		return nil
	}
	if cfg.hooks.On() {
		return hook.Mover(mv)
	}
	return mv
}

// moveInOne writes the row of the new state and the batch with the
// store's one statement, when the transition writes nothing else: a move
// into a non-final state, without declared indexes. It reports false
// when it did not apply (and wrote nothing): the caller then sends
// AddMember and UpdateBatch. Its answers are theirs (see
// [storage.Mover]), so a lost compare-and-swap is handled as after
// UpdateBatch.
func (o *Orchestrator) moveInOne(ctx context.Context, b storage.Batch, p transitionPlan) (storage.Batch, bool, error) {
	if o.mover == nil || p.row == nil || len(o.cfg.indexes) > 0 {
		return storage.Batch{}, false, nil
	}
	updated, err := o.mover.MoveBatch(ctx, *p.row, p.next, b.Version, b.State)
	if errors.Is(err, errors.ErrUnsupported) {
		return storage.Batch{}, false, nil
	}
	return updated, true, err
}
