package batchstate

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/statefold/statefold/storage"
)

// IndexReport says what one Reconcile did with the rows of the indexes
// declared with [WithIndex]. Scanned = Removed + Kept.
type IndexReport struct {
	// Marks is the number of marked keys read: keys whose rows a write
	// changed since the last Reconcile that settled them.
	Marks int
	// Cleared counts the marks removed because every row of the key was
	// settled: live, or removed.
	Cleared int
	// Scanned is the number of key rows read.
	Scanned int
	// Removed counts key rows removed because their batch does not have
	// the key and the write that added the row is over (or was fenced
	// off).
	Removed int
	// Kept counts key rows left in place: live rows, rows of writes that
	// may still be in flight, rows whose removal failed.
	Kept int
	// Fenced counts batches rewritten unchanged, and tombstones written,
	// to fence off a write whose key row outlived the grace period.
	Fenced int
}

// keyAction is what Reconcile does with one key row.
type keyAction int

const (
	keyLive     keyAction = iota // the batch has the key: keep, settled
	keyInFlight                  // a write that may still land: keep, unsettled
	keyRemove                    // the batch lacks the key and is past the row's version
	keyFence                     // a transition past the grace: fence it, then remove
	keyAbandon                   // a create past the grace: write a tombstone, then remove
)

// decideKeyRow decides what Reconcile does with row r of key, given its
// batch b (exists: b was found), whether b has the key, and whether the
// row is past the grace.
func decideKeyRow(r storage.Member, b storage.Batch, exists, hasKey, pastGrace bool) keyAction {
	switch {
	case !exists && !pastGrace:
		return keyInFlight
	case !exists:
		return keyAbandon
	case hasKey:
		return keyLive
	case b.Version >= r.Version:
		return keyRemove
	case pastGrace:
		return keyFence
	}
	return keyInFlight
}

// reconcileKeys settles the marked keys of every index of queue: it reads
// each marked key's rows and their batches, removes the stale rows, and
// clears the mark once every row is settled.
func (o *Orchestrator) reconcileKeys(ctx context.Context, queue string) (IndexReport, error) {
	var rep IndexReport
	var errs []error
	for _, ix := range o.cfg.indexes {
		marks, err := o.members.ListMembers(ctx, queue, markBucket(ix.name))
		if err != nil {
			return rep, errors.Join(append(errs, fmt.Errorf("batchstate: reconcile: list marks of %q: %w", ix.name, err))...)
		}
		rep.Marks += len(marks)
		for _, mk := range marks {
			settled, err := o.settleKey(ctx, queue, ix, mk.BatchID, &rep)
			if err != nil {
				errs = append(errs, err)
			}
			if !settled || err != nil {
				continue
			}
			if err := o.members.RemoveMember(ctx, queue, markBucket(ix.name), mk.BatchID, mk.Version); err != nil {
				errs = append(errs, fmt.Errorf("batchstate: reconcile: clear mark %q of %q: %w", mk.BatchID, ix.name, err))
				continue
			}
			rep.Cleared++
		}
	}
	return rep, errors.Join(errs...)
}

// settleKey carries out the decision about every row of key in index ix
// and reports whether all of them are settled.
func (o *Orchestrator) settleKey(ctx context.Context, queue string, ix index, key string, rep *IndexReport) (bool, error) {
	bucket := keyBucket(ix.name, key)
	rows, err := o.members.ListMembers(ctx, queue, bucket)
	if err != nil {
		return false, fmt.Errorf("batchstate: reconcile: list key %q of %q: %w", key, ix.name, err)
	}
	found, _, err := o.resolve(ctx, queue, [][]storage.Member{rows})
	if err != nil {
		return false, err
	}
	settled, now := true, o.now()
	var errs []error
	for _, r := range rows {
		rep.Scanned++
		b, ok := found[r.BatchID]
		ks, kerr := deriveKeys(o.m, []index{ix}, b)
		act := decideKeyRow(r, b, ok, kerr == nil && ks.has(ix.name, key), now.Sub(r.AddedAt) > o.cfg.grace)
		removed, err := o.keyRowStep(ctx, queue, bucket, r, b, act, rep)
		if err != nil {
			errs = append(errs, err)
		}
		if removed {
			rep.Removed++
		} else {
			rep.Kept++
			settled = settled && act == keyLive
		}
	}
	return settled, errors.Join(errs...)
}

// keyRowStep carries out act on row r of bucket and reports whether the
// row was removed.
func (o *Orchestrator) keyRowStep(ctx context.Context, queue, bucket string, r storage.Member, b storage.Batch, act keyAction, rep *IndexReport) (bool, error) {
	maxVersion := b.Version
	switch act {
	case keyLive, keyInFlight:
		return false, nil
	case keyFence:
		fenced, err := o.batches.UpdateBatch(ctx, b, b.Version, b.State)
		if errors.Is(err, storage.ErrConflict) {
			return false, nil // the batch moved meanwhile: decide next time
		} else if err != nil {
			return false, fmt.Errorf("batchstate: reconcile: fence %q at version %d: %w", b.ID, b.Version, err)
		}
		rep.Fenced++
		if maxVersion = fenced.Version; maxVersion < r.Version {
			return false, nil
		}
	case keyAbandon:
		if _, err := o.tombstone(ctx, queue, r.BatchID); errors.Is(err, storage.ErrAlreadyExists) {
			return false, nil // the create landed meanwhile: decide next time
		} else if err != nil {
			return false, err
		}
		rep.Fenced++
		maxVersion = math.MaxInt64
	}
	if err := o.members.RemoveMember(ctx, queue, bucket, r.BatchID, maxVersion); err != nil {
		return false, fmt.Errorf("batchstate: reconcile: remove %q from a key bucket: %w", r.BatchID, err)
	}
	return true, nil
}
