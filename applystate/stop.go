package applystate

import (
	"context"
	"fmt"

	"github.com/statefold/statefold/storage"
)

// finishStop moves the pending operations of an apply whose stop was
// requested to stopped — what an interrupted Stop left undone — and returns
// the operations as stored afterwards.
func (p *Projector) finishStop(ctx context.Context, a storage.Apply, ops []storage.Operation) ([]storage.Operation, error) {
	if !a.StopRequested {
		return ops, nil
	}
	stopped := false
	for _, op := range ops {
		if unclaimed(op) {
			if err := p.stopOperation(ctx, op); err != nil {
				return nil, err
			}
			stopped = true
		}
	}
	if !stopped {
		return ops, nil
	}
	ops, err := p.ops.ListOperations(ctx, a.ID)
	if err != nil {
		return nil, fmt.Errorf("applystate: list operations of %q: %w", a.ID, err)
	}
	return ops, nil
}
