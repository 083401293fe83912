package applystate

import (
	"context"
	"errors"
	"fmt"

	"github.com/statefold/statefold/storage"
)

// The bookkeeping writes of operation rows shared by Drive and Reproject:
// the seal before a terminal write and the acknowledgement after a
// projection write.

// sealable reports whether a terminal decision seals op: a row neither
// settled nor active, whose later move the decision must exclude.
func sealable(op storage.Operation) bool {
	return !Normalize(op.State).Settled() && !active(op)
}

// seal rewrites unchanged, each by compare-and-swap at its listed version,
// the sealable rows of ops (a terminal decision's listing). It reports
// false when one of them changed since the listing: the decision must read
// and list again. See [Projector.bump].
func (p *Projector) seal(ctx context.Context, ops []storage.Operation) (bool, error) {
	for _, op := range ops {
		if !sealable(op) {
			continue
		}
		_, err := p.ops.UpdateOperation(ctx, carried(op, op), op.Version)
		if errors.Is(err, storage.ErrConflict) {
			p.cfg.logger.DebugContext(ctx, "applystate: an operation changed before the terminal decision sealed it", "apply", op.ApplyID, "operation", op.ID)
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("applystate: seal operation %q: %w", op.ID, err)
		}
	}
	return true, nil
}

// acknowledge sets Projected on op by compare-and-swap, for the version
// this write creates (ProjectedVersion, see [Acknowledged]), after an apply
// write that listed op as it is, and returns the stored row. After an error
// other than a conflict the row is read back ([acknowledgedBack]). A
// conflict (the row changed since), or an error the read-back cannot
// settle, leaves it unacknowledged — the next poll of its deployment, or
// Reproject, projects it again — and is returned (a row found changed is
// a conflict).
func (p *Projector) acknowledge(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	w := acknowledgedAt(op, op.Version, true)
	got, err := p.ops.UpdateOperation(ctx, w, op.Version)
	if err != nil && !errors.Is(err, storage.ErrConflict) {
		if b, rerr := p.ops.GetOperation(ctx, op.ApplyID, op.ID); rerr == nil {
			switch acknowledgedBack(b, op) {
			case landed:
				return b, nil // the response was lost, the write landed
			case superseded:
				err = fmt.Errorf("%w (read back at version %d: %w)", err, b.Version, storage.ErrConflict)
			}
		}
	}
	switch {
	case err == nil:
		return got, nil
	case errors.Is(err, storage.ErrConflict):
		p.cfg.logger.DebugContext(ctx, "applystate: operation changed before its acknowledgement", "apply", op.ApplyID, "operation", op.ID)
	default:
		p.cfg.logger.WarnContext(ctx, "applystate: acknowledging an operation failed; its next poll projects it again",
			"apply", op.ApplyID, "operation", op.ID, "err", err)
	}
	return op, err
}

// acknowledgedBack tells what became of the acknowledgement of op from b,
// the row read back after the write returned an error: holding op
// acknowledged at the next version, it landed; at another version, the row
// changed; at op's version, the write has not landed (yet).
func acknowledgedBack(b, op storage.Operation) outcome {
	switch {
	case b.Version == op.Version+1 && Acknowledged(b) && sameRow(b, op):
		return landed
	case b.Version != op.Version:
		return superseded
	}
	return notLanded
}
