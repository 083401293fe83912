package applystate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/statefold/statefold/internal/prune"
	"github.com/statefold/statefold/storage"
)

// MaxPruneFinishedLimit is the most applies one [Projector.PruneFinished]
// call prunes.
const MaxPruneFinishedLimit = 10000

// MaxFinishedRange is the longest interval [since, before) one
// [Projector.PruneFinished] call walks.
const MaxFinishedRange = 366 * 24 * time.Hour

// finishedPrefix starts the buckets of the finished-applies index: one a
// UTC day of completion. Like openBucket it starts with batchstate's
// reserved prefix, so no queue's row is ever one of the index's.
const finishedPrefix = "\x00statefold:done:"

// day is the length of a bucket of the finished-applies index.
const day = 24 * time.Hour

// finishedQueue is the membership partition of shard i of namespace's
// finished-applies index.
func finishedQueue(namespace string, i int) string { return namespace + ":done:" + strconv.Itoa(i) }

// finishedBucket is the bucket of the UTC day of t.
func finishedBucket(t time.Time) string { return finishedPrefix + t.UTC().Format(time.DateOnly) }

// completion is when the terminal apply a finished: its CompletedAt, or
// for a stopped apply (which never sets it) the UpdatedAt of its terminal
// write.
func completion(a storage.Apply) time.Time {
	if a.CompletedAt.IsZero() {
		return a.UpdatedAt
	}
	return a.CompletedAt
}

// file adds the terminal apply a's row to the finished-applies index: the
// day of its completion, at its version. A stored row of a higher version
// (ErrConflict) is the same apply's and will do.
func (p *Projector) file(ctx context.Context, a storage.Apply) error {
	d := p.cfg.discovery
	r := storage.Member{
		Queue: finishedQueue(d.namespace, shardOf(a.ID, d.shards)), State: finishedBucket(completion(a)),
		BatchID: a.ID, Version: a.Version, AddedAt: p.now(),
	}
	if err := d.members.AddMember(ctx, r); err != nil && !errors.Is(err, storage.ErrConflict) {
		return fmt.Errorf("applystate: finished-applies index: %w", err)
	}
	return nil
}

// PruneFinished prunes the applies of the finished-applies index
// ([WithDiscovery]) that completed on a UTC day in [since, before) and
// before the instant before, at most limit of them (1 to
// [MaxPruneFinishedLimit]): pass before = now minus the retention period,
// and since = the Next of the last report (or the oldest day still kept).
// It reads the index day by day, oldest first, shard by shard, and prunes
// each apply as [Projector.Prune] does (re-checking that it is terminal
// and completed before before; a non-terminal apply is never touched),
// then removes its index row. A row whose apply is missing, or already
// pruned, is removed (Cleaned); any other row is kept for a later call.
//
// PruneFinished keeps no cursor: the index is the work list, so a call
// after a crash, an error or the limit finds what is left. Several calls
// at once are safe. It works on up to [WithListConcurrency] applies at
// once. Input errors match storage.ErrInvalid; a store error ends the
// call with what it did so far.
func (p *Projector) PruneFinished(ctx context.Context, since, before time.Time, limit int) (rep PruneReport, err error) {
	ctx, call := p.start(ctx, "PruneFinished", "", "")
	defer func() { call.EndPruned(rep.Pruned, err, errorType) }()
	days, err := p.checkPruneFinished(ctx, since, before, limit)
	if err != nil {
		return rep, err
	}
	d := p.cfg.discovery
	for _, t := range days {
		rep.Next = t
		for i := range d.shards {
			rows, err := d.members.ListMembers(ctx, finishedQueue(d.namespace, i), finishedBucket(t))
			if err != nil {
				return rep, fmt.Errorf("applystate: prune finished: %s shard %d: %w", t.Format(time.DateOnly), i, err)
			}
			if err := p.pruneRows(ctx, rows, before, limit, &rep); err != nil || rep.More {
				return rep, err
			}
		}
	}
	rep.Next = before.UTC().Truncate(day)
	return rep, nil
}

// checkPruneFinished validates PruneFinished's arguments and returns the
// first instants of the UTC days [since, before) covers.
func (p *Projector) checkPruneFinished(ctx context.Context, since, before time.Time, limit int) ([]time.Time, error) {
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case p.ops == nil:
		return nil, storage.Invalid("ops", "nil OperationStore")
	case p.cfg.discovery == nil:
		return nil, storage.Invalid("WithDiscovery", "PruneFinished needs the finished-applies index")
	case limit < 1 || limit > MaxPruneFinishedLimit:
		return nil, storage.Invalid("limit", "%d is not in [1, %d]", limit, MaxPruneFinishedLimit)
	case !before.After(since) || before.Sub(since) > MaxFinishedRange:
		return nil, storage.Invalid("before", "interval [%s, %s) is empty or longer than %s", since, before, MaxFinishedRange)
	}
	return prune.Days(since, before), nil
}

// pruneRows prunes the applies of the index rows of one bucket, by id, up
// to the report's limit, WithListConcurrency at a time.
func (p *Projector) pruneRows(ctx context.Context, rows []storage.Member, before time.Time, limit int, rep *PruneReport) error {
	slices.SortFunc(rows, func(a, b storage.Member) int { return cmp.Compare(a.BatchID, b.BatchID) })
	left := func() int { return limit - rep.Pruned - rep.Cleaned }
	more, err := prune.Windows(rows, p.cfg.listConcurrency, left, func(window []storage.Member) error {
		return p.pruneWindow(ctx, window, before, rep)
	})
	if more {
		rep.More = true
	}
	return err
}

// pruneWindow runs pruneRow for rows at once and adds up the outcomes.
func (p *Projector) pruneWindow(ctx context.Context, rows []storage.Member, before time.Time, rep *PruneReport) error {
	outs := make([]pruneOutcome, len(rows))
	ops := make([]int, len(rows))
	errs := make([]error, len(rows))
	var wg sync.WaitGroup
	for i, r := range rows {
		wg.Go(func() { outs[i], ops[i], errs[i] = p.pruneRow(ctx, r, before) })
	}
	wg.Wait()
	for i, out := range outs {
		rep.Scanned++
		rep.Operations += ops[i]
		switch out {
		case prunePruned:
			rep.Pruned++
		case pruneMissing, pruneDone:
			rep.Cleaned++
		default:
			rep.Kept++
		}
	}
	return errors.Join(errs...)
}

// pruneRow prunes the apply of the finished-index row r and then removes
// r, or removes r alone (the apply missing or pruned already), or keeps
// it. The outcome is what happened to the apply; a failed removal is an
// error, and the next call removes the row.
func (p *Projector) pruneRow(ctx context.Context, r storage.Member, before time.Time) (pruneOutcome, int, error) {
	out, ops, err := p.pruneApply(ctx, r.BatchID, before)
	if err != nil || out == pruneKept {
		return out, ops, err
	}
	if err := p.cfg.discovery.members.RemoveMember(ctx, r.Queue, r.State, r.BatchID, r.Version); err != nil {
		return out, ops, fmt.Errorf("applystate: prune %q: remove its finished row (the next PruneFinished does): %w", r.BatchID, err)
	}
	return out, ops, nil
}
