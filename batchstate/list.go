package batchstate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/statefold/statefold/storage"
)

// List returns the batches of queue whose stored state is one of states,
// each once, ordered by (CreatedAt, ID). States must be known and
// non-terminal.
//
// A batch stored in a requested state at every instant of the call is
// returned, even if it moves between requested states meanwhile; every
// batch returned was stored in a requested state, as returned, at some
// instant of the call. List reads the queue's lease row, every bucket, and
// then every candidate batch together with the lease row again in one
// GetBatches call; if a Reconcile held the lease or took it meanwhile, the
// rows it removed may have hidden a batch, and List reads again (see
// [WithListRetry]). When every attempt overlapped a Reconcile, List
// returns an error matching storage.ErrConflict rather than a result that
// may miss a batch. On a quiet queue a List costs one GetBatch, one
// ListMembers per state and one GetBatches.
//
// Rows of batches found terminal are removed, best-effort; a row whose
// batch does not exist is skipped and kept (it may belong to a Create in
// flight).
func (o *Orchestrator) List(ctx context.Context, queue string, states ...string) ([]storage.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	states, err := o.checkQueueStates(queue, states)
	if err != nil {
		return nil, err
	}
	backoff := o.cfg.listBackoff
	for attempt := 1; ; attempt++ {
		out, rows, found, res, err := o.listOnce(ctx, queue, states)
		if err != nil {
			return nil, err
		}
		if res == listDone {
			for i, rs := range rows {
				for _, r := range rs {
					if b, ok := found[r.BatchID]; ok && o.final(b.State) {
						o.removeBestEffort(ctx, queue, states[i], r.BatchID, math.MaxInt64, "list")
					}
				}
			}
			return out, nil
		}
		if attempt >= o.cfg.listAttempts {
			return nil, fmt.Errorf("batchstate: list %q: a Reconcile removed index rows during each of %d attempts: %w",
				queue, attempt, storage.ErrConflict)
		}
		o.cfg.logger.DebugContext(ctx, "batchstate: list overlapped a Reconcile; reading again", "queue", queue, "attempt", attempt)
		if res == listHeld && backoff > 0 {
			// A Reconcile is removing rows right now: give it time.
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			backoff = min(2*backoff, 250*time.Millisecond)
		}
	}
}

// The outcomes of one attempt of List.
type listResult int

const (
	listDone    listResult = iota // no Reconcile overlapped: the result stands
	listHeld                      // a Reconcile holds the lease: wait, then read again
	listChanged                   // a Reconcile came and went: read again at once
)

// listOnce is one attempt of List.
func (o *Orchestrator) listOnce(ctx context.Context, queue string, states []string) (out []storage.Batch, rows [][]storage.Member, found map[string]storage.Batch, res listResult, err error) {
	lease, lerr := o.batches.GetBatch(ctx, queue, LeaseID)
	if lerr != nil && !errors.Is(lerr, storage.ErrNotFound) {
		return nil, nil, nil, 0, fmt.Errorf("batchstate: list %q: read lease: %w", queue, lerr)
	}
	before := o.view(lease, lerr == nil, o.now())
	if before.held {
		return nil, nil, nil, listHeld, nil
	}
	if rows, err = o.bucketRows(ctx, queue, states); err != nil {
		return nil, nil, nil, 0, err
	}
	found, ids, err := o.resolve(ctx, queue, rows, LeaseID)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	lease, present := found[LeaseID]
	if after := o.view(lease, present, o.now()); after != before {
		if after.held {
			return nil, nil, nil, listHeld, nil
		}
		return nil, nil, nil, listChanged, nil
	}
	out = make([]storage.Batch, 0, len(ids))
	for _, id := range ids {
		b, ok := found[id]
		if ok && slices.Contains(states, b.State) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b storage.Batch) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, rows, found, listDone, nil
}
