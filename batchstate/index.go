package batchstate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/statefold/statefold/storage"
)

// bucketRows lists the rows of every state, at most cfg.concurrency at
// once; rows[i] belongs to states[i].
func (o *Orchestrator) bucketRows(ctx context.Context, queue string, states []string) ([][]storage.Member, error) {
	rows := make([][]storage.Member, len(states))
	if o.cfg.concurrency == 1 {
		for i, s := range states {
			var err error
			if rows[i], err = o.members.ListMembers(ctx, queue, s); err != nil {
				return nil, fmt.Errorf("batchstate: list members %q: %w", s, err)
			}
		}
		return rows, nil
	}
	errs := make([]error, len(states))
	sem := make(chan struct{}, o.cfg.concurrency)
	var wg sync.WaitGroup
	for i, s := range states {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rows[i], errs[i] = o.members.ListMembers(ctx, queue, s)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("batchstate: list members %q: %w", s, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rows, nil
}

// candidates returns the batch ids of rows, once each, in order.
func candidates(rows [][]storage.Member) []string {
	var ids []string
	seen := make(map[string]bool)
	for _, rs := range rows {
		for _, r := range rs {
			if !seen[r.BatchID] {
				seen[r.BatchID] = true
				ids = append(ids, r.BatchID)
			}
		}
	}
	return ids
}

// resolve reads every batch named by rows, and the extra ids, with one
// GetBatches call; ids lists the batch ids of rows, once each, in order.
func (o *Orchestrator) resolve(ctx context.Context, queue string, rows [][]storage.Member, extra ...string) (map[string]storage.Batch, []string, error) {
	ids := candidates(rows)
	all := append(slices.Clip(ids), extra...)
	found := make(map[string]storage.Batch, len(all))
	if len(all) == 0 {
		return found, nil, nil
	}
	batches, err := o.batches.GetBatches(ctx, queue, all)
	if err != nil {
		return nil, nil, fmt.Errorf("batchstate: get batches: %w", err)
	}
	asked := make(map[string]bool, len(all))
	for _, id := range all {
		asked[id] = true
	}
	for _, b := range batches {
		if b.Queue == queue && asked[b.ID] {
			found[b.ID] = b
		}
	}
	return found, ids, nil
}

// removeBestEffort removes a row, logging a failure at Warn; it reports
// whether the removal succeeded.
func (o *Orchestrator) removeBestEffort(ctx context.Context, queue, state, id string, maxVersion int64, why string) bool {
	if err := o.members.RemoveMember(ctx, queue, state, id, maxVersion); err != nil {
		o.cfg.logger.WarnContext(ctx, "batchstate: best-effort membership removal failed",
			"op", why, "queue", queue, "state", state, "batch", id, "max_version", maxVersion, "err", err)
		return false
	}
	return true
}
