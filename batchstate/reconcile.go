package batchstate

import (
	"context"
	"errors"
	"fmt"
	"math"

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
//     grace period it is kept. Past it, Reconcile fences the transition
//     off by rewriting the batch unchanged (UpdateBatch with the version
//     and state it read, which bumps Version and nothing else): the
//     transition's compare-and-swap can then never succeed, and the row is
//     removed;
//   - a row whose batch does not exist was added by a Create whose batch
//     write has not landed. Within the grace period it is kept. Past it,
//     Reconcile writes an [Abandoned] tombstone under the id (CreateBatch):
//     the late create then fails with storage.ErrAlreadyExists, and the
//     row is removed. If the tombstone's create reports that the batch
//     exists, the create landed meanwhile and the row is kept.
//
// So time only decides when Reconcile acts; what makes each removal safe
// is that the batch is final or that the write the row belonged to can no
// longer land.
//
// Removing the row of a live batch from a state it has left could hide the
// batch from a List that read its new state's bucket just before the batch
// moved there. Reconcile therefore removes such rows only while it holds
// the queue's lease (a reserved batch row, [LeaseID], taken and released
// by compare-and-swap), and List reads again when the lease was held or
// taken during its reads. A lease held for longer than its duration
// ([WithReconcileLease]) is presumed abandoned by a crashed Reconcile and
// may be taken over; a Reconcile stops removing once it has held the lease
// for half its duration. If another Reconcile holds the lease, those rows
// are kept for the next run.
//
// A failed write (a removal, a fence, a tombstone, the lease) is counted as
// kept and reported in the returned error, joined; the scan goes on.
// Reading errors end the call before any write.
func (o *Orchestrator) Reconcile(ctx context.Context, queue string) (ReconcileReport, error) {
	var rep ReconcileReport
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if err := storage.ValidateKey("queue", queue); err != nil {
		return rep, err
	}
	states := o.m.NonTerminal()
	rows, err := o.bucketRows(ctx, queue, states)
	if err != nil {
		return rep, err
	}
	found, _, err := o.resolve(ctx, queue, rows)
	if err != nil {
		return rep, err
	}
	now := o.now()
	missing := make(map[string]bool)
	var errs []error
	remove := func(state string, r storage.Member, maxVersion int64, counter *int) {
		if err := o.members.RemoveMember(ctx, queue, state, r.BatchID, maxVersion); err != nil {
			errs = append(errs, fmt.Errorf("batchstate: reconcile: remove %q from %q: %w", r.BatchID, state, err))
			rep.Kept++
			return
		}
		*counter++
	}
	type pending struct {
		state      string
		row        storage.Member
		maxVersion int64
	}
	var live []pending // removals that need the lease
	for i, rs := range rows {
		state := states[i]
		for _, r := range rs {
			rep.Scanned++
			b, ok := found[r.BatchID]
			pastGrace := now.Sub(r.AddedAt) > o.cfg.grace
			if !ok && !missing[r.BatchID] {
				missing[r.BatchID] = true
				rep.Unresolved = append(rep.Unresolved, r.BatchID)
			}
			switch {
			case !ok && !pastGrace:
				rep.Kept++ // a Create that may still be in flight
			case !ok:
				tomb, err := o.tombstone(ctx, queue, r.BatchID)
				switch {
				case errors.Is(err, storage.ErrAlreadyExists):
					rep.Kept++ // the create landed meanwhile: decide next time
				case err != nil:
					errs = append(errs, err)
					rep.Kept++
				default:
					rep.Fenced++
					found[r.BatchID] = tomb
					remove(state, r, math.MaxInt64, &rep.RemovedDangling)
				}
			case o.final(b.State):
				if missing[r.BatchID] {
					remove(state, r, math.MaxInt64, &rep.RemovedDangling)
				} else {
					remove(state, r, math.MaxInt64, &rep.RemovedTerminal)
				}
			case b.State == state:
				rep.Kept++ // the live row
			case b.Version >= r.Version:
				live = append(live, pending{state, r, b.Version})
			case pastGrace:
				fenced, err := o.batches.UpdateBatch(ctx, b, b.Version, b.State)
				switch {
				case errors.Is(err, storage.ErrConflict):
					rep.Kept++ // the batch moved meanwhile: decide next time
				case err != nil:
					errs = append(errs, fmt.Errorf("batchstate: reconcile: fence %q at version %d: %w", b.ID, b.Version, err))
					rep.Kept++
				default:
					rep.Fenced++
					found[b.ID] = fenced
					live = append(live, pending{state, r, r.Version})
				}
			default:
				rep.Kept++ // a transition that may still be in flight
			}
		}
	}
	if len(live) == 0 {
		return rep, errors.Join(errs...)
	}
	lease, err := o.holdLease(ctx, queue)
	if err != nil {
		rep.Kept += len(live)
		if errors.Is(err, errLeaseBusy) {
			o.cfg.logger.DebugContext(ctx, "batchstate: reconcile: another Reconcile holds the lease; stale rows kept",
				"queue", queue, "rows", len(live))
			return rep, errors.Join(errs...)
		}
		return rep, errors.Join(append(errs, err)...)
	}
	held := o.now()
	for i, p := range live {
		if o.now().Sub(held) > o.cfg.lease/2 {
			rep.Kept += len(live) - i
			errs = append(errs, fmt.Errorf("batchstate: reconcile %q: held the lease for half its duration; %d rows kept", queue, len(live)-i))
			break
		}
		remove(p.state, p.row, p.maxVersion, &rep.RemovedStale)
	}
	if err := o.releaseLease(ctx, queue, lease); err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
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

// holdLease takes the queue's lease: creates it held, or moves it from
