package storagetest

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
			seen[b.ID] = true
			stored, err := store.GetBatch(ctx, queue, b.ID)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				errs = append(errs, fmt.Errorf("invariant II: batch %q listed under %q but not stored", b.ID, s))
			case err != nil:
				return fmt.Errorf("get batch %q: %w", b.ID, err)
			case b.Queue != queue || stored.State != s:
				errs = append(errs, fmt.Errorf("invariant II: batch %q listed under %q but stored in %q of queue %q", b.ID, s, stored.State, stored.Queue))
			}
		}
		listed[s] = seen
	}
	for _, id := range ids {
		b, err := store.GetBatch(ctx, queue, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get batch %q: %w", id, err)
		}
		if slices.Contains(m.Terminal, b.State) {
			continue
		}
		rows, err := store.ListMembers(ctx, queue, b.State)
		if err != nil {
			return fmt.Errorf("list members %q: %w", b.State, err)
		}
		if !slices.ContainsFunc(rows, func(r storage.Member) bool { return r.BatchID == id }) {
			errs = append(errs, fmt.Errorf("invariant I: batch %q stored in %q has no index row", id, b.State))
		}
		if !listed[b.State][id] {
			errs = append(errs, fmt.Errorf("invariant I: batch %q stored in %q is not listed under it", id, b.State))
		}
	}
	return errors.Join(errs...)
}

// CheckIndexExact verifies that, after a fault-free Reconcile with the
// dangling grace elapsed, the membership index of queue holds exactly one
// row per batch stored in a non-terminal state, in that state's bucket, and
// no other row. ids are the batches the caller knows of; rows naming any
// other id are violations too.
func CheckIndexExact(ctx context.Context, store storage.Store, m batchstate.Machine, queue string, ids []string) error {
	var errs []error
	rows := make(map[string][]string) // id -> states holding a row
	for _, s := range m.NonTerminal() {
		ms, err := store.ListMembers(ctx, queue, s)
		if err != nil {
			return fmt.Errorf("list members %q: %w", s, err)
		}
		for _, r := range ms {
			rows[r.BatchID] = append(rows[r.BatchID], s)
		}
	}
	known := make(map[string]bool, len(ids))
	for _, id := range ids {
		known[id] = true
		var want []string
		b, err := store.GetBatch(ctx, queue, id)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return fmt.Errorf("get batch %q: %w", id, err)
		case !slices.Contains(m.Terminal, b.State):
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
