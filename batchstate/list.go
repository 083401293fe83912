package batchstate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/statefold/statefold/observe"
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
func (o *Orchestrator) List(ctx context.Context, queue string, states ...string) (out []storage.Batch, err error) {
	ctx, call := o.start(ctx, "List", queue, "")
	defer func() { endList(call, out, err) }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	states, err = checkList(o.m, queue, states)
	if err != nil {
		return nil, err
	}
	read, err := o.readIndex(ctx, queue, func() (listRead, listResult, error) { return o.listAttempt(ctx, queue, states) })
	return read.out, err
}

// readIndex runs attempt, one read of the index of queue, until no
// Reconcile overlapped it (at most WithListRetry's attempts, pausing while
// a Reconcile holds the lease), then removes the rows of final batches it
// found, best-effort.
func (o *Orchestrator) readIndex(ctx context.Context, queue string, attempt func() (listRead, listResult, error)) (listRead, error) {
	backoff := o.cfg.listBackoff
	for n := 1; ; n++ {
		read, res, err := attempt()
		if err != nil {
			return listRead{}, err
		}
		if res == listDone {
			for _, r := range read.final {
				o.removeBestEffort(ctx, queue, r.state, r.id, math.MaxInt64, "list")
			}
			return read, nil
		}
		if n >= o.cfg.listAttempts {
			return listRead{}, fmt.Errorf("batchstate: list %q: a Reconcile removed index rows during each of %d attempts: %w",
				queue, n, storage.ErrConflict)
		}
		o.cfg.logger.DebugContext(ctx, "batchstate: list overlapped a Reconcile; reading again", "queue", queue, "attempt", n)
		emit(ctx, observe.Reread, res.reason())
		if res == listHeld && backoff > 0 {
			// A Reconcile is removing rows right now: give it time.
			if err := pause(ctx, backoff); err != nil {
				return listRead{}, err
			}
			backoff = nextBackoff(backoff)
		}
	}
}

// checkList validates a queue and a list of non-terminal states of m and
// returns the states deduplicated, in the order given.
func checkList(m Machine, queue string, states []string) ([]string, error) {
	if err := storage.ValidateKey("queue", queue); err != nil {
		return nil, err
	}
	if len(states) == 0 {
		return nil, storage.Invalid("states", "no state to list")
	}
	out := make([]string, 0, len(states))
	for _, s := range states {
		switch {
		case !m.Known(s):
			return nil, storage.Invalid("states", "unknown state %q", s)
		case m.IsTerminal(s):
			return nil, storage.Invalid("states", "terminal state %q is not indexed", s)
		case !slices.Contains(out, s):
			out = append(out, s)
		}
	}
	return out, nil
}

// The outcomes of one attempt of List.
type listResult int

const (
	listDone    listResult = iota // no Reconcile overlapped: the result stands
	listHeld                      // a Reconcile holds the lease: wait, then read again
	listChanged                   // a Reconcile came and went: read again at once
)

// listRead is what one attempt of List read and returns: the batches
// listed and the rows of batches found final.
type listRead struct {
	out   []storage.Batch
	final []rowRef
	next  string // ListPage's cursor
}

// listAttempt is one attempt of List: one snapshot read if the stores
// offer it (see listSnapshot), the generic reads otherwise.
func (o *Orchestrator) listAttempt(ctx context.Context, queue string, states []string) (listRead, listResult, error) {
	if o.snap != nil {
		read, res, err := o.listSnapshot(ctx, queue, states)
		if !errors.Is(err, errors.ErrUnsupported) {
			return read, res, err
		}
	}
	return o.listOnce(ctx, queue, states, func() ([][]storage.Member, string, error) {
		rows, err := o.bucketRows(ctx, queue, states)
		return rows, "", err
	})
}

// listOnce is one generic attempt of List (or of ListPage): the lease,
// the rows readRows reads (rows[i] of states[i], and the page's cursor),
// then their batches with the lease again.
func (o *Orchestrator) listOnce(ctx context.Context, queue string, states []string, readRows func() ([][]storage.Member, string, error)) (listRead, listResult, error) {
	lease, lerr := o.batches.GetBatch(ctx, queue, LeaseID)
	if lerr != nil && !errors.Is(lerr, storage.ErrNotFound) {
		return listRead{}, 0, fmt.Errorf("batchstate: list %q: read lease: %w", queue, lerr)
	}
	before := viewLease(lease, lerr == nil, o.now(), o.cfg.lease)
	if before.held {
		return listRead{}, listHeld, nil
	}
	rows, next, err := readRows()
	if err != nil {
		return listRead{}, 0, err
	}
	found, ids, err := o.resolve(ctx, queue, rows, LeaseID)
	if err != nil {
		return listRead{}, 0, err
	}
	lease, present := found[LeaseID]
	if res := overlap(before, viewLease(lease, present, o.now(), o.cfg.lease)); res != listDone {
		return listRead{}, res, nil
	}
	return listRead{out: listed(ids, found, states), final: finalRows(o.m, states, rows, found), next: next}, listDone, nil
}

// overlap decides, from the lease as a List saw it before its first bucket
// read and again with its candidates, whether a Reconcile may have removed
// rows meanwhile.
func overlap(before, after leaseView) listResult {
	switch {
	case before.held || after.held:
		return listHeld
	case after != before:
		return listChanged
	}
	return listDone
}

// listed returns the batches of ids found in one of states, ordered by
// (CreatedAt, ID).
func listed(ids []string, found map[string]storage.Batch, states []string) []storage.Batch {
	out := make([]storage.Batch, 0, len(ids))
	for _, id := range ids {
		b, ok := found[id]
		if ok && slices.Contains(states, b.State) {
			out = append(out, b)
		}
	}
	sortBatches(out)
	return out
}

// rowRef names one index row of a queue.
type rowRef struct{ state, id string }

// finalRows returns the rows (rows[i] read in states[i]) whose batch was
// found final: no reader needs them.
func finalRows(m Machine, states []string, rows [][]storage.Member, found map[string]storage.Batch) []rowRef {
	var out []rowRef
	for i, rs := range rows {
		for _, r := range rs {
			if b, ok := found[r.BatchID]; ok && m.final(b.State) {
				out = append(out, rowRef{states[i], r.BatchID})
			}
		}
	}
	return out
}

// nextBackoff is the pause after a pause of d.
func nextBackoff(d time.Duration) time.Duration { return min(2*d, MaxListBackoff) }

// pause waits d, or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
