package batchstate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/storage"
)

// Abandoned is the state of a tombstone: a batch row that Reconcile writes
// in place of a batch whose Create never finished (see
// [Orchestrator.Reconcile]). It is terminal, it is not one of any
// Machine's states (Machine.Validate rejects it), and its row stops a late
// CreateBatch of that id: the late Create fails with
// storage.ErrAlreadyExists, so the id cannot be used again.
const Abandoned = "statefold:abandoned"

// ReconcileReport says what one Reconcile did. Every row read is counted
// once: Scanned = RemovedTerminal + RemovedStale + RemovedDangling + Kept.
type ReconcileReport struct {
	// Scanned is the number of index rows read.
	Scanned int
	// RemovedTerminal counts rows removed because their batch is terminal
	// (or Abandoned).
	RemovedTerminal int
	// RemovedStale counts rows removed because their batch is in another
	// state and the write that added the row is over: the batch's version
	// is at least the row's, or Reconcile fenced the write off.
	RemovedStale int
	// RemovedDangling counts rows removed because their batch never came
	// to exist: Reconcile wrote an Abandoned tombstone under the id.
	RemovedDangling int
	// Fenced counts batches Reconcile rewrote unchanged (a new Version) to
	// fence off a transition that did not finish within the grace period,
	// and tombstones it wrote for creates that did not.
	Fenced int
	// Kept counts rows left in place: live rows, rows of writes that may
	// still be in flight, rows whose removal failed, and rows of live
	// batches left for the next Reconcile because another Reconcile held
	// the queue's lease.
	Kept int
	// Unresolved lists, once each and in scan order, the ids of rows whose
	// batch did not exist when the scan read it.
	Unresolved []string
	// Indexes says what Reconcile did with the rows of the indexes; the
	// counts above are of the state rows only.
	Indexes IndexReport
}

// Reconcile scans every non-terminal bucket of queue, resolves every
// candidate with one GetBatches call, and brings the index back to one row
// per live batch:
//
//   - rows of terminal (or Abandoned) batches are removed;
//   - stale rows — the batch is in another state and its version is at
//     least the row's, so the write that added the row is over — are
//     removed with maxVersion = the batch's version, so a row re-added by
//     a newer transition into that state survives;
//   - a row ahead of its batch, in a state the batch is not in, was added
//     by a transition whose compare-and-swap has not landed. Within the
//     grace period ([WithDanglingGrace]) it is kept. Past it, Reconcile
//     fences the transition off by rewriting the batch unchanged
//     (UpdateBatch with the version and state it read, which bumps Version
//     and nothing else), so that the transition fails, and removes the row;
//   - a row whose batch does not exist was added by a Create whose batch
//     write has not landed. Within the grace period it is kept. Past it,
//     Reconcile fences the create off by writing an [Abandoned] tombstone
//     under the id (the late create fails with storage.ErrAlreadyExists),
//     and removes the row. If the tombstone's create reports that the
//     batch exists, the create landed meanwhile and the row is kept.
//
// Stale rows, and rows of fenced transitions, belong to live batches: they
// are removed only while Reconcile holds the queue's lease ([LeaseID]),
// which it takes only when it has such rows to remove, after the other
// writes. It stops removing once it has held the lease for half its
// duration ([WithReconcileLease]); if another Reconcile holds the lease,
// those rows are kept for the next run.
//
// A failed write (a removal, a fence, a tombstone, the lease) is counted as
// kept and reported in the returned error, joined; the scan goes on.
// Reading errors end the call before any write.
func (o *Orchestrator) Reconcile(ctx context.Context, queue string) (rep ReconcileReport, err error) {
	ctx, call := o.start(ctx, "Reconcile", queue, "")
	defer func() { endReconcile(ctx, call, rep, err) }()
	if err := ctx.Err(); err != nil {
		return ReconcileReport{}, err
	}
	if err := storage.ValidateKey("queue", queue); err != nil {
		return ReconcileReport{}, err
	}
	states := o.m.NonTerminal()
	rows, err := o.bucketRows(ctx, queue, states)
	if err != nil {
		return ReconcileReport{}, err
	}
	found, _, err := o.resolve(ctx, queue, rows)
	if err != nil {
		return ReconcileReport{}, err
	}
	run := &reconcileRun{o: o, queue: queue, found: found, missing: make(map[string]bool)}
	run.rep.Unresolved = unresolved(rows, found)
	for _, id := range run.rep.Unresolved {
		run.missing[id] = true
	}
	now := o.now()
	for i, rs := range rows {
		for _, r := range rs {
			run.row(ctx, states[i], r, now)
		}
	}
	run.removeLive(ctx)
	var kerr error
	run.rep.Indexes, kerr = o.reconcileKeys(ctx, queue)
	return run.rep, errors.Join(append(run.errs, kerr)...)
}

// rowAction is what Reconcile does with one index row.
type rowAction int

const (
	keepRow           rowAction = iota // live, or its write may still be in flight
	removeRow                          // the batch is final: remove at once
	removeLeased                       // the batch is elsewhere and the row's write is over: remove under the lease
	fenceThenRemove                    // fence the transition off, then remove under the lease
	abandonThenRemove                  // write a tombstone under the id, then remove at once
)

// rowStep is the decision about one index row.
type rowStep struct {
	action rowAction
	// maxVersion bounds the removal: a row re-added at a higher version by
	// a newer transition survives it.
	maxVersion int64
}

// decideRow decides what Reconcile does with row r of state, given its
// batch b (exists: b was found) and whether the row is past the grace.
func decideRow(m Machine, state string, r storage.Member, b storage.Batch, exists, pastGrace bool) rowStep {
	switch {
	case !exists && !pastGrace:
		return rowStep{action: keepRow} // a Create that may still be in flight
	case !exists:
		return rowStep{action: abandonThenRemove, maxVersion: math.MaxInt64}
	case m.final(b.State):
		return rowStep{action: removeRow, maxVersion: math.MaxInt64}
	case b.State == state:
		return rowStep{action: keepRow} // the live row
	case b.Version >= r.Version:
		return rowStep{action: removeLeased, maxVersion: b.Version}
	case pastGrace:
		return rowStep{action: fenceThenRemove, maxVersion: r.Version}
	}
	return rowStep{action: keepRow} // a transition that may still be in flight
}

// unresolved returns, once each and in scan order, the ids of rows whose
// batch was not found; nil if there is none.
func unresolved(rows [][]storage.Member, found map[string]storage.Batch) []string {
	var out []string
	for _, id := range candidates(rows) {
		if _, ok := found[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// leaseSpent reports whether a Reconcile that took the lease at since
// must stop removing at now: it has held the lease for half its duration.
func leaseSpent(since, now time.Time, lease time.Duration) bool {
	return now.Sub(since) > lease/2
}

// reconcileRun is the state of one Reconcile: what it read, what it did,
// and the removals left for the lease.
type reconcileRun struct {
	o       *Orchestrator
	queue   string
	found   map[string]storage.Batch
	missing map[string]bool
	rep     ReconcileReport
	errs    []error
	live    []leasedRemoval
}

// leasedRemoval is a removal that needs the lease.
type leasedRemoval struct {
	state      string
	row        storage.Member
	maxVersion int64
}

// row carries out the decision about row r of state.
func (run *reconcileRun) row(ctx context.Context, state string, r storage.Member, now time.Time) {
	run.rep.Scanned++
	b, ok := run.found[r.BatchID]
	step := decideRow(run.o.m, state, r, b, ok, now.Sub(r.AddedAt) > run.o.cfg.grace)
	switch step.action {
	case keepRow:
		run.rep.Kept++
	case removeRow:
		counter := &run.rep.RemovedTerminal
		if run.missing[r.BatchID] {
			counter = &run.rep.RemovedDangling // its tombstone, written by this run
		}
		run.remove(ctx, state, r, step.maxVersion, counter)
	case removeLeased:
		run.live = append(run.live, leasedRemoval{state, r, step.maxVersion})
	case fenceThenRemove:
		run.fence(ctx, state, r, b, step.maxVersion)
	case abandonThenRemove:
		run.abandon(ctx, state, r, step.maxVersion)
	}
}

// remove removes a row, counting it in counter, or as kept on failure.
func (run *reconcileRun) remove(ctx context.Context, state string, r storage.Member, maxVersion int64, counter *int) {
	if err := run.o.members.RemoveMember(ctx, run.queue, state, r.BatchID, maxVersion); err != nil {
		run.errs = append(run.errs, fmt.Errorf("batchstate: reconcile: remove %q from %q: %w", r.BatchID, state, err))
		run.rep.Kept++
		return
	}
	*counter++
}

// fence rewrites b unchanged, so that the transition that added r can no
// longer land, and leaves r's removal for the lease.
func (run *reconcileRun) fence(ctx context.Context, state string, r storage.Member, b storage.Batch, maxVersion int64) {
	fenced, err := run.o.batches.UpdateBatch(ctx, b, b.Version, b.State)
	switch {
	case errors.Is(err, storage.ErrConflict):
		run.rep.Kept++ // the batch moved meanwhile: decide next time
	case err != nil:
		run.errs = append(run.errs, fmt.Errorf("batchstate: reconcile: fence %q at version %d: %w", b.ID, b.Version, err))
		run.rep.Kept++
	default:
		run.rep.Fenced++
		emit(ctx, observe.Fenced, "transition")
		run.found[b.ID] = fenced
		run.live = append(run.live, leasedRemoval{state, r, maxVersion})
	}
}

// abandon writes a tombstone under r's id, so that the create that added
// r can no longer land, and removes r.
func (run *reconcileRun) abandon(ctx context.Context, state string, r storage.Member, maxVersion int64) {
	tomb, err := run.o.tombstone(ctx, run.queue, r.BatchID)
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		run.rep.Kept++ // the create landed meanwhile: decide next time
	case err != nil:
		run.errs = append(run.errs, err)
		run.rep.Kept++
	default:
		run.rep.Fenced++
		emit(ctx, observe.Fenced, "create")
		run.found[r.BatchID] = tomb
		run.remove(ctx, state, r, maxVersion, &run.rep.RemovedDangling)
	}
}

// removeLive takes the lease if rows of live batches are to be removed,
// removes them while the lease lasts, and releases it.
func (run *reconcileRun) removeLive(ctx context.Context) {
	if len(run.live) == 0 {
		return
	}
	lease, err := run.o.holdLease(ctx, run.queue)
	if err != nil {
		run.rep.Kept += len(run.live)
		if errors.Is(err, errLeaseBusy) {
			run.o.cfg.logger.DebugContext(ctx, "batchstate: reconcile: another Reconcile holds the lease; stale rows kept",
				"queue", run.queue, "rows", len(run.live))
			return
		}
		run.errs = append(run.errs, err)
		return
	}
	held := run.o.now()
	for i, p := range run.live {
		if leaseSpent(held, run.o.now(), run.o.cfg.lease) {
			run.rep.Kept += len(run.live) - i
			run.errs = append(run.errs, fmt.Errorf("batchstate: reconcile %q: held the lease for half its duration; %d rows kept",
				run.queue, len(run.live)-i))
			break
		}
		run.remove(ctx, p.state, p.row, p.maxVersion, &run.rep.RemovedStale)
	}
	if err := run.o.releaseLease(ctx, run.queue, lease); err != nil {
		run.errs = append(run.errs, err)
	}
}

// tombstone writes an Abandoned batch under id.
func (o *Orchestrator) tombstone(ctx context.Context, queue, id string) (storage.Batch, error) {
	now := o.now()
	tomb, err := o.batches.CreateBatch(ctx, storage.Batch{Queue: queue, ID: id, State: Abandoned, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		return storage.Batch{}, fmt.Errorf("batchstate: reconcile: abandon %q: %w", id, err)
	}
	o.cfg.logger.DebugContext(ctx, "batchstate: reconcile abandoned a create that did not finish", "queue", queue, "batch", id)
	return tomb, nil
}
