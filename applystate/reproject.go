package applystate

import (
	"context"
	"fmt"
	"slices"

	"github.com/statefold/statefold/storage"
)

// Reproject projects the apply over its stored operations only, with the
// same rules and writes as Drive. It repairs a crash between an operation
// write and the apply write, and finishes a Stop interrupted after it set
// StopRequested (operations still pending are moved to stopped first). An
// apply without operations is Undetermined. Rows not yet acknowledged
// ([Acknowledged] false) are acknowledged once its apply write has landed.
func (p *Projector) Reproject(ctx context.Context, applyID string) (Result, error) {
	return p.onApply(ctx, "Reproject", applyID, p.reproject)
}

// reproject projects the apply over its stored operations only; once a
// write of its own landed it acknowledges the rows of the listing that
// write was computed from (see docs/design.md, "Acknowledgements make
// polls cheap").
func (p *Projector) reproject(ctx context.Context, applyID string) (Result, error) {
	var listed []storage.Operation
	res, err := p.project(ctx, applyID, nil, func(a storage.Apply) (decision, error) {
		ops, err := p.ops.ListOperations(ctx, applyID)
		if err != nil {
			return decision{}, fmt.Errorf("applystate: list operations of %q: %w", applyID, err)
		}
		r := reprojectOver(a, ops)
		if len(r.stop) > 0 {
			return decision{retry: true}, p.finishStop(ctx, a, r.stop)
		}
		listed = ops
		if r.seal {
			if sealed, err := p.seal(ctx, ops); err != nil || !sealed {
				return decision{retry: true}, err
			}
		}
		return r.decision, nil
	})
	if err != nil || !reprojectAcknowledges(res) {
		return res, err
	}
	for _, op := range toAcknowledge(listed) {
		_, _ = p.acknowledge(ctx, op)
	}
	return res, nil
}

// reprojection is what a round of Reproject decides over the apply and its
// listing.
type reprojection struct {
	// stop are the unclaimed pending rows a requested stop moves to
	// stopped before anything is projected; then a new round.
	stop []storage.Operation
	// seal: the decision is terminal, so the listing is sealed first.
	seal bool
	// decision is the apply write: forced while the listing holds a row
	// not yet acknowledged, so that the acknowledgements rely on a write
	// of this call.
	decision decision
}

// reprojectOver decides a round of Reproject over the apply a and its
// listing ops (which it leaves in their order).
func reprojectOver(a storage.Apply, ops []storage.Operation) reprojection {
	if len(ops) == 0 {
		return reprojection{decision: decision{undetermined: true}}
	}
	if todo := stopTodo(a, ops); len(todo) > 0 {
		return reprojection{stop: todo}
	}
	s, msg := rollout(slices.Clone(ops), a)
	unacked := slices.ContainsFunc(ops, func(op storage.Operation) bool { return !Acknowledged(op) })
	return reprojection{seal: s.Terminal(), decision: decision{state: s, msg: msg, force: unacked}}
}

// reprojectAcknowledges reports whether a Reproject that ended with res
// acknowledges its listing: only after a write of its own landed on an
// apply that stays open.
func reprojectAcknowledges(res Result) bool {
	return !res.Undetermined && res.Changed && !Normalize(res.Apply.State).Terminal()
}

// toAcknowledge are the rows of listed that Reproject acknowledges: those
// not acknowledged yet, except claims — a claim is acknowledged only by a
// Drive that checked it, since its acknowledgement grants the start.
func toAcknowledge(listed []storage.Operation) []storage.Operation {
	var out []storage.Operation
	for _, op := range listed {
		if !Acknowledged(op) && !claimed(op) {
			out = append(out, op)
		}
	}
	return out
}
