package batchstate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/statefold/statefold/internal/prune"
	"github.com/statefold/statefold/storage"
)

// MaxPruneLimit is the most batches one [Orchestrator.Prune] call prunes.
const MaxPruneLimit = 10000

// PruneReport says what one [Orchestrator.Prune] call did.
type PruneReport struct {
	// Scanned is the number of finished-index rows read.
	Scanned int
	// Pruned counts batches turned into tombstones, their rows removed.
	Pruned int
	// Cleaned counts finished-index rows of batches an earlier, interrupted
	// Prune had already turned into tombstones, removed now.
	Cleaned int
	// Kept counts rows left in place: their batch is not terminal (a move
	// in flight, or reopened), finished at or after before, filed under
	// another day, missing, or it changed under the prune (a lost
	// compare-and-swap).
	Kept int
	// More reports that the call stopped at its limit: call again.
	More bool
}

// Prune removes the terminal batches of queue that finished on a UTC day
// in [since, before) and before the instant before, at most limit of
// them (1 to [MaxPruneLimit]): pass before = now minus the retention
// period. It walks the finished index ([WithFinishedIndex]) day by day,
// oldest first, and for each batch it reads there:
//
//   - re-checks that the batch is terminal and finished before before;
//   - adds the marks of the keys it drops (as a Transition does);
//   - replaces the row, by compare-and-swap at the version and state it
//     read, with an [Abandoned] tombstone without payload: a batch moved
//     or reopened meanwhile fails the swap and is kept, untouched;
//   - removes its key rows and then its finished-index row.
//
// The tombstone keeps the id: a later Create of it fails with
// storage.ErrAlreadyExists (ids are never reused, so no stale index row
// of the old batch can be taken for a new one's). Prune keeps no cursor:
// everything it has not finished is still in the finished index, so a
// call after a crash or at the limit resumes where the last stopped, and
// a tombstone whose row was left behind is cleaned then. Several Prunes
// at once are safe. Prune works on up to [WithListConcurrency] batches
// at once (1: one at a time). Input errors match storage.ErrInvalid; a
// store error ends the call with what it did so far.
func (o *Orchestrator) Prune(ctx context.Context, queue string, since, before time.Time, limit int) (rep PruneReport, err error) {
	ctx, call := o.start(ctx, "Prune", queue, "")
	defer func() { call.EndPruned(rep.Pruned, err, nil) }()
	if !o.cfg.finished {
		return rep, storage.Invalid("Prune", "finished batches are not filed (see WithFinishedIndex)")
	}
	if limit < 1 || limit > MaxPruneLimit {
		return rep, storage.Invalid("limit", "%d is not in [1, %d]", limit, MaxPruneLimit)
	}
	days, err := checkFinished(queue, since, before)
	if err != nil {
		return rep, err
	}
	for _, day := range days {
		if err := o.pruneDay(ctx, queue, day, before, limit, &rep); err != nil || rep.More {
			return rep, err
		}
	}
	return rep, nil
}

// pruneDay prunes the batches filed under the day bucket, up to the
// report's limit, up to the orchestrator's list concurrency at once.
func (o *Orchestrator) pruneDay(ctx context.Context, queue, day string, before time.Time, limit int, rep *PruneReport) error {
	rows, err := o.members.ListMembers(ctx, queue, day)
	if err != nil {
		return fmt.Errorf("batchstate: prune: list %q: %w", day, err)
	}
	slices.SortFunc(rows, func(a, b storage.Member) int { return cmp.Compare(a.BatchID, b.BatchID) })
	left := func() int { return limit - rep.Pruned - rep.Cleaned }
	for page := range slices.Chunk(rows, pruneReadChunk) {
		found, _, err := o.resolve(ctx, queue, [][]storage.Member{page})
		if err != nil {
			return fmt.Errorf("batchstate: prune: %w", err)
		}
		more, err := prune.Windows(page, o.cfg.concurrency, left, func(window []storage.Member) error {
			return o.pruneWindow(ctx, window, found, before, rep)
		})
		if err != nil {
			return err
		}
		if more {
			rep.More = true
			return nil
		}
	}
	return nil
}

// pruneOutcome is what pruneRow did with one row.
type pruneOutcome int

const (
	pruneKept pruneOutcome = iota
	prunePruned
	pruneCleaned
)

// pruneWindow runs pruneRow for rows at once and adds up the outcomes.
func (o *Orchestrator) pruneWindow(ctx context.Context, rows []storage.Member, found map[string]storage.Batch, before time.Time, rep *PruneReport) error {
	outcomes := make([]pruneOutcome, len(rows))
	errs := make([]error, len(rows))
	var wg sync.WaitGroup
	for i, r := range rows {
		wg.Go(func() { outcomes[i], errs[i] = o.pruneRow(ctx, r, found, before) })
	}
	wg.Wait()
	for _, out := range outcomes {
		rep.Scanned++
		switch out {
		case prunePruned:
			rep.Pruned++
		case pruneCleaned:
			rep.Cleaned++
		default:
			rep.Kept++
		}
	}
	return errors.Join(errs...)
}

// pruneReadChunk is how many batches pruneDay reads with one GetBatches.
const pruneReadChunk = 500

// pruneRow prunes the batch of the finished-index row r, or cleans r, or
// keeps it.
func (o *Orchestrator) pruneRow(ctx context.Context, r storage.Member, found map[string]storage.Batch, before time.Time) (pruneOutcome, error) {
	b, ok := found[r.BatchID]
	switch {
	case ok && b.State == Abandoned:
		// An earlier Prune wrote the tombstone and stopped before this row.
		if err := o.members.RemoveMember(ctx, r.Queue, r.State, r.BatchID, b.Version); err != nil {
			return pruneKept, fmt.Errorf("batchstate: prune %q: remove its finished row: %w", r.BatchID, err)
		}
		return pruneCleaned, nil
	case !ok || !finished(o.m, b) || !b.UpdatedAt.Before(before) || doneBucket(b.UpdatedAt) != r.State:
		return pruneKept, nil
	}
	pruned, err := o.pruneBatch(ctx, b)
	if errors.Is(err, storage.ErrConflict) && !errors.Is(err, storage.ErrAmbiguous) {
		return pruneKept, nil // moved or fenced meanwhile: not ours to prune
	}
	if pruned {
		return prunePruned, err
	}
	return pruneKept, err
}

// pruneBatch turns the terminal batch b into a tombstone and removes its
// key rows and its finished-index row.
func (o *Orchestrator) pruneBatch(ctx context.Context, b storage.Batch) (bool, error) {
	tomb := storage.Batch{Queue: b.Queue, ID: b.ID, State: Abandoned, CreatedAt: b.CreatedAt, UpdatedAt: o.now()}
	kp, err := planKeys(o.m, o.cfg.indexes, false, &b, tomb, b.Version+1, tomb.UpdatedAt)
	if err != nil {
		return false, fmt.Errorf("batchstate: prune %q: %w", b.ID, err)
	}
	if err := o.addRows(ctx, kp.before); err != nil {
		return false, fmt.Errorf("batchstate: prune %q: %w", b.ID, err)
	}
	written, err := o.batches.UpdateBatch(ctx, tomb, b.Version, b.State)
	if err != nil {
		return false, fmt.Errorf("batchstate: prune %q at version %d: %w", b.ID, b.Version, err)
	}
	o.dropKeys(ctx, b.Queue, b.ID, kp.drop, written.Version)
	if err := o.members.RemoveMember(ctx, b.Queue, doneBucket(b.UpdatedAt), b.ID, written.Version); err != nil {
		return true, fmt.Errorf("batchstate: prune %q: remove its finished row (the next Prune does): %w", b.ID, err)
	}
	return true, nil
}
