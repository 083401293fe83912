package explore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// ListFunc lists the batches of a queue in the given states, as
// (*batchstate.Orchestrator).List does. The checks take a function so that
// they can be pointed at any orchestrator, a broken one included.
type ListFunc func(ctx context.Context, queue string, states ...string) ([]storage.Batch, error)

// CheckListed verifies the two batchstate invariants for the batches ids
// of queue, on a quiescent store:
//
//   - I (never miss): every batch stored in a non-terminal state S has its
//     index row (queue, S, id), and list(queue, S) returns it.
//   - II (never misreport): list(queue, S) returns only batches whose stored
//     state is S, each once.
//
// It returns every violation found, joined, or nil.
func CheckListed(ctx context.Context, store storage.Store, list ListFunc, m batchstate.Machine, queue string, ids []string) error {
	var errs []error
	listed := make(map[string]map[string]bool) // state -> ids
	var listedIDs []string
	for _, s := range m.NonTerminal() {
		got, err := list(ctx, queue, s)
		if err != nil {
			return fmt.Errorf("list %q: %w", s, err)
		}
		seen := make(map[string]bool, len(got))
		for _, b := range got {
			if seen[b.ID] {
				errs = append(errs, fmt.Errorf("invariant II: batch %q listed twice under %q", b.ID, s))
			}
			if b.Queue != queue {
				errs = append(errs, fmt.Errorf("invariant II: batch %q of queue %q listed under queue %q", b.ID, b.Queue, queue))
			}
			seen[b.ID] = true
			listedIDs = append(listedIDs, b.ID)
		}
		listed[s] = seen
	}
	stored, err := storedBatches(ctx, store, queue, append(listedIDs, ids...))
	if err != nil {
		return err
	}
	for s, seen := range listed {
		for id := range seen {
			switch b, ok := stored[id]; {
			case !ok:
				errs = append(errs, fmt.Errorf("invariant II: batch %q listed under %q but not stored", id, s))
			case b.State != s:
				errs = append(errs, fmt.Errorf("invariant II: batch %q listed under %q but stored in %q", id, s, b.State))
			}
		}
	}
	rows, err := indexRows(ctx, store, m, queue)
	if err != nil {
		return err
	}
	for _, id := range ids {
		b, ok := stored[id]
		if !ok || final(m, b.State) {
			continue
		}
		if !slices.Contains(rows[id], b.State) {
			errs = append(errs, fmt.Errorf("invariant I: batch %q stored in %q has no index row", id, b.State))
		}
		if !listed[b.State][id] {
			errs = append(errs, fmt.Errorf("invariant I: batch %q stored in %q is not listed under it", id, b.State))
		}
	}
	return errors.Join(errs...)
}

// final reports whether a batch stored in state s never moves again: a
// terminal state of m, or the tombstone state batchstate.Abandoned.
func final(m batchstate.Machine, s string) bool {
	return s == batchstate.Abandoned || m.IsTerminal(s)
}

// storedBatches reads the batches of ids (duplicates allowed) with one
// GetBatches call, by id; missing batches are absent.
func storedBatches(ctx context.Context, store storage.Store, queue string, ids []string) (map[string]storage.Batch, error) {
	out := make(map[string]storage.Batch, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	bs, err := store.GetBatches(ctx, queue, ids)
	if err != nil {
		return nil, fmt.Errorf("get batches: %w", err)
	}
	for _, b := range bs {
		out[b.ID] = b
	}
	return out, nil
}

// indexRows reads every non-terminal bucket of queue once and returns, per
// batch id, the states holding a row for it, in machine order.
func indexRows(ctx context.Context, store storage.Store, m batchstate.Machine, queue string) (map[string][]string, error) {
	rows := make(map[string][]string)
	for _, s := range m.NonTerminal() {
		ms, err := store.ListMembers(ctx, queue, s)
		if err != nil {
			return nil, fmt.Errorf("list members %q: %w", s, err)
		}
		for _, r := range ms {
			rows[r.BatchID] = append(rows[r.BatchID], s)
		}
	}
	return rows, nil
}

// CheckIndexExact verifies that, after a fault-free Reconcile with the
// dangling grace elapsed, the membership index of queue holds exactly one
// row per batch stored in a non-terminal state, in that state's bucket, and
// no other row (none for terminal or Abandoned batches). ids are the batches the caller knows of; rows naming any
// other id are violations too.
func CheckIndexExact(ctx context.Context, store storage.Store, m batchstate.Machine, queue string, ids []string) error {
	rows, err := indexRows(ctx, store, m, queue)
	if err != nil {
		return err
	}
	stored, err := storedBatches(ctx, store, queue, ids)
	if err != nil {
		return err
	}
	var errs []error
	known := make(map[string]bool, len(ids))
	for _, id := range ids {
		known[id] = true
		var want []string
		if b, ok := stored[id]; ok && !final(m, b.State) {
			want = []string{b.State}
		}
		if !slices.Equal(rows[id], want) {
			errs = append(errs, fmt.Errorf("index: batch %q has rows in %q, want %q", id, rows[id], want))
		}
	}
	for id, states := range rows {
		if !known[id] {
			errs = append(errs, fmt.Errorf("index: unknown batch %q has rows in %q", id, states))
		}
	}
	return errors.Join(errs...)
}
