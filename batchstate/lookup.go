package batchstate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/statefold/statefold/internal/prune"
	"github.com/statefold/statefold/storage"
)

// Lookup returns the batches of queue that index (declared with
// [WithIndex]) files under key, each once, ordered by (CreatedAt, ID).
//
// Every batch returned had key in its stored row, as returned, at some
// instant of the call; a batch whose stored row has key at every instant
// of the call is returned, even if it is rewritten meanwhile. Lookup costs
// one ListMembers and one GetBatches call, whatever the size of the queue
// (one ListSnapshot of the key's rows through a store that reads a queue
// in one snapshot, [storage.Snapshotter]).
// Terminal batches keep their keys: Lookup returns them too.
func (o *Orchestrator) Lookup(ctx context.Context, queue, index, key string) (out []storage.Batch, err error) {
	ctx, call := o.start(ctx, "Lookup", queue, "")
	defer func() { endList(call, out, err) }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := o.checkLookup(queue, index, key); err != nil {
		return nil, err
	}
	found, ids, err := o.lookupRows(ctx, queue, keyBucket(index, key))
	if err != nil {
		return nil, fmt.Errorf("batchstate: lookup %q %q: %w", index, key, err)
	}
	return keyed(o.m, o.indexByName(index), ids, found, key), nil
}

// lookupRows returns the batches of the rows of bucket, by id, and their
// ids: in one snapshot where the stores offer it (each batch that exists,
// whatever its state), else the rows, then their batches.
func (o *Orchestrator) lookupRows(ctx context.Context, queue, bucket string) (map[string]storage.Batch, []string, error) {
	if o.snap != nil {
		snap, err := o.snap.ListSnapshot(ctx, storage.SnapshotRequest{Queue: queue, States: []string{bucket}, AnyState: true})
		if err == nil {
			found := make(map[string]storage.Batch, len(snap.Batches))
			ids := make([]string, 0, len(snap.Batches))
			for _, b := range snap.Batches {
				found[b.ID] = b
				ids = append(ids, b.ID)
			}
			return found, ids, nil
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return nil, nil, err
		}
	}
	rows, err := o.members.ListMembers(ctx, queue, bucket)
	if err != nil {
		return nil, nil, fmt.Errorf("list members: %w", err)
	}
	return o.resolve(ctx, queue, [][]storage.Member{rows})
}

// checkLookup reports why Lookup refuses its arguments, if it does.
func (o *Orchestrator) checkLookup(queue, index, key string) error {
	if err := storage.ValidateKey("queue", queue); err != nil {
		return err
	}
	if o.indexByName(index) == nil {
		return storage.Invalid("index", "no index %q (see WithIndex)", index)
	}
	if err := checkKey(index, key); err != nil {
		return storage.Invalid("key", "%v", unwrapReason(err))
	}
	return nil
}

// indexByName returns the index called name, nil if there is none.
func (o *Orchestrator) indexByName(name string) []index {
	i := slices.IndexFunc(o.cfg.indexes, func(ix index) bool { return ix.name == name })
	if i < 0 {
		return nil
	}
	return o.cfg.indexes[i : i+1]
}

// keyed returns the batches of ids found whose keys in idx (one index)
// hold key, ordered by (CreatedAt, ID).
func keyed(m Machine, idx []index, ids []string, found map[string]storage.Batch, key string) []storage.Batch {
	var out []storage.Batch
	for _, id := range ids {
		b, ok := found[id]
		if !ok {
			continue
		}
		ks, err := deriveKeys(m, idx, b)
		if err == nil && ks.has(idx[0].name, key) {
			out = append(out, b)
		}
	}
	sortBatches(out)
	return out
}

// ListFinished returns, with [WithFinishedIndex], the batches of queue that entered a terminal state
// at a time in [since, until), by their UpdatedAt, each once, ordered by
// (UpdatedAt, ID): an audit of what finished. until-since must be
// positive and at most [MaxFinishedRange].
//
// Every batch returned was stored terminal, as returned, at some instant
// of the call; a batch stored terminal at every instant of the call with
// its UpdatedAt in the interval is returned. The batches are filed by UTC
// day: the call costs one ListMembers per day of the interval (read at most
// [WithListConcurrency] at once) and one GetBatches call.
func (o *Orchestrator) ListFinished(ctx context.Context, queue string, since, until time.Time) (out []storage.Batch, err error) {
	ctx, call := o.start(ctx, "ListFinished", queue, "")
	defer func() { endList(call, out, err) }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !o.cfg.finished {
		return nil, storage.Invalid("ListFinished", "finished batches are not filed (see WithFinishedIndex)")
	}
	days, err := checkFinished(queue, since, until)
	if err != nil {
		return nil, err
	}
	rows, err := o.bucketRows(ctx, queue, days)
	if err != nil {
		return nil, err
	}
	found, ids, err := o.resolve(ctx, queue, rows)
	if err != nil {
		return nil, err
	}
	return finishedIn(o.m, ids, found, since, until), nil
}

// checkFinished validates ListFinished's arguments and returns the buckets
// of the days the interval [since, until) covers.
func checkFinished(queue string, since, until time.Time) ([]string, error) {
	if err := storage.ValidateKey("queue", queue); err != nil {
		return nil, err
	}
	if !until.After(since) || until.Sub(since) > MaxFinishedRange {
		return nil, storage.Invalid("until", "interval [%s, %s) is empty or longer than %s", since, until, MaxFinishedRange)
	}
	var days []string
	for _, d := range prune.Days(since, until) {
		days = append(days, doneBucket(d))
	}
	return days, nil
}

// finishedIn returns the batches of ids found terminal with an UpdatedAt in
// [since, until), ordered by (UpdatedAt, ID).
func finishedIn(m Machine, ids []string, found map[string]storage.Batch, since, until time.Time) []storage.Batch {
	var out []storage.Batch
	for _, id := range ids {
		b, ok := found[id]
		if ok && finished(m, b) && !b.UpdatedAt.Before(since) && b.UpdatedAt.Before(until) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b storage.Batch) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// addRows adds rows in order, before a batch write. A mark refused
// because a newer one is stored is no failure: the newer mark sends
// Reconcile to the same bucket.
func (o *Orchestrator) addRows(ctx context.Context, rows []storage.Member) error {
	for _, r := range rows {
		err := o.members.AddMember(ctx, r)
		if err != nil && !(isMark(r) && errors.Is(err, storage.ErrConflict)) {
			return fmt.Errorf("add index row %q: %w", r.State, err)
		}
	}
	return nil
}

// dropKeys removes, best-effort, the key rows of batch id for keys its
// write at version dropped; a row re-added by a newer write survives.
func (o *Orchestrator) dropKeys(ctx context.Context, queue, id string, keys []keyRef, version int64) {
	for _, k := range keys {
		o.removeBestEffort(ctx, queue, keyBucket(k.index, k.key), id, version, "transition")
	}
}
