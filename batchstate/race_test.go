package batchstate_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// cyclic is a two-state machine a batch cycles through: a → b → a.
var cyclic = batchstate.Machine{States: []string{"a", "b"}, Transitions: map[string][]string{"a": {"b"}, "b": {"a"}}}

// A batch cycling A → B → A while Reconcile's removal of its old A row is
// held must keep its A row: the removal is conditional on the version.
func TestCyclicRaceDelayedRemoval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, cyclic)
	x := b.create(t, "x", "a")
	x2, err := b.o.Transition(ctx, x, "b")
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"x": 1}, b.rows(t, "a"), "the row of the state left stays for Reconcile")
	reached, release := make(chan struct{}), make(chan struct{})
	var held atomic.Bool
	b.spy.setHook(func(_ context.Context, m storagetest.Method) error {
		if m == mRemoveMember && held.CompareAndSwap(false, true) { // only the first removal
			close(reached)
			<-release
		}
		return nil
	})

	done := make(chan error, 1)
	go func() { _, err := b.o.Reconcile(ctx, "q"); done <- err }() // its removal of (a, max 2) is held
	<-reached
	x3, err := b.o.Transition(ctx, x2, "a") // back to a, version 3, while the removal is held
	require.NoError(t, err)
	close(release)
	require.NoError(t, <-done)

	require.Equal(t, "a", x3.State)
	require.Equal(t, map[string]int64{"x": 3}, b.rows(t, "a"), "the delayed removal did not take the newer row")
	require.Equal(t, []string{"x"}, b.ids(t, "a"))
}

// listedIfUnmoved reports a miss: the batch was stored in one state at one
// version both before and after a List of that state, so it was in that
// state for the whole call, yet the List did not return it.
func listedIfUnmoved(ctx context.Context, o *batchstate.Orchestrator, store storage.BatchStore, id string) error {
	before, err := store.GetBatch(ctx, "q", id)
	if err != nil {
		return err
	}
	got, err := o.List(ctx, "q", before.State)
	if err != nil {
		return err
	}
	after, err := store.GetBatch(ctx, "q", id)
	if err != nil {
		return err
	}
	if after.Version != before.Version || slices.Contains(batchIDs(got), id) {
		return nil
	}
	return fmt.Errorf("batch %q stored in %q at version %d throughout List(%q) is missing from it", id, before.State, before.Version, before.State)
}

// Batches cycling A → B → A from several goroutines at once, with every
// removal delayed and a Reconcile running meanwhile, are never missing from
// List under their stored state.
func TestCyclicRaceConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, cyclic)
	const batches, movers, moves = 4, 8, 150
	var ids []string
	for i := range batches {
		id := fmt.Sprintf("c%d", i)
		ids = append(ids, id)
		b.create(t, id, "a")
	}
	b.spy.setHook(func(_ context.Context, m storagetest.Method) error {
		if m == mRemoveMember {
			time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond) // the delay a slow store adds
		}
		return nil
	})

	var wg sync.WaitGroup
	var stop atomic.Bool
	errs := make(chan error, movers+1)
	var checks atomic.Int64
	wg.Go(func() {
		for first := true; first || !stop.Load(); first = false { // at least once
			for _, id := range ids {
				if err := listedIfUnmoved(ctx, b.o, b.store, id); err != nil {
					errs <- err
					return
				}
				checks.Add(1)
			}
		}
	})
	var movers_ sync.WaitGroup
	var landed atomic.Int64
	for w := range movers {
		movers_.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range moves {
				cur, err := b.store.GetBatch(ctx, "q", ids[rng.IntN(batches)])
				if err != nil {
					errs <- err
					return
				}
				to := map[string]string{"a": "b", "b": "a"}[cur.State]
				_, err = b.o.Transition(ctx, cur, to)
				switch {
				case err == nil:
					landed.Add(1)
				case !errors.Is(err, storage.ErrConflict):
					errs <- err
					return
				}
			}
		})
	}
	movers_.Wait()
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Positive(t, landed.Load())
	t.Logf("landed %d transitions, %d checks", landed.Load(), checks.Load())
	require.Positive(t, checks.Load())
	checkListedExactly(t, b, ids)
	for _, id := range ids {
		x := b.get(t, id)
		require.Equal(t, x.Version, b.rows(t, x.State)[id], "the row of the stored state carries the stored version")
	}
}

// 8 goroutines × 500 random allowed transitions over 20 batches while a
// reader lists continuously; a pinned batch is in every listing; after
// quiescence every non-terminal batch is listed exactly under its stored
// state, and after Reconcile the index holds exactly one row per
// non-terminal batch.
func TestStress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const workers, moves, n = 8, 500, 20
	m := batchstate.Machine{
		States:      []string{"a", "b", "c", "done"},
		Terminal:    []string{"done"},
		Transitions: map[string][]string{"a": {"b", "c"}, "b": {"a", "c"}, "c": {"a", "b", "done"}},
	}
	b := setup(t, m, batchstate.WithDanglingGrace(time.Minute))
	ids := []string{"pinned"}
	b.create(t, "pinned", "b")
	for i := range n {
		id := fmt.Sprintf("x%02d", i)
		ids = append(ids, id)
		b.create(t, id, "a")
	}

	errs := make(chan error, workers+1)
	var stop atomic.Bool
	var listings atomic.Int64
	var reader sync.WaitGroup
	started := make(chan struct{})
	reader.Go(func() {
		defer func() {
			if listings.Load() == 0 {
				close(started)
			}
		}()
		for !stop.Load() {
			got, err := b.o.List(ctx, "q", "a", "b", "c")
			if err != nil {
				errs <- err
				return
			}
			seen := map[string]bool{}
			for _, x := range got {
				if seen[x.ID] {
					errs <- fmt.Errorf("%s listed twice", x.ID)
					return
				}
				seen[x.ID] = true
				if m.IsTerminal(x.State) {
					errs <- fmt.Errorf("%s listed in terminal state %q", x.ID, x.State)
					return
				}
			}
			if !seen["pinned"] {
				errs <- fmt.Errorf("listing %d misses the pinned batch", listings.Load())
				return
			}
			if listings.Add(1) == 1 {
				close(started)
			}
		}
	})
	<-started // the workers start once the reader is listing
	var wg sync.WaitGroup
	var landed atomic.Int64
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range moves {
				runtime.Gosched() // let the reader interleave
				cur, err := b.store.GetBatch(ctx, "q", ids[1+rng.IntN(n)])
				if err != nil {
					errs <- err
					return
				}
				next := m.Transitions[cur.State]
				if len(next) == 0 {
					continue // done
				}
				to := next[rng.IntN(len(next))]
				if to == "done" && rng.IntN(8) != 0 {
					continue // keep most batches cycling
				}
				_, err = b.o.Transition(ctx, cur, to)
				switch {
				case err == nil:
					landed.Add(1)
				case !errors.Is(err, storage.ErrConflict):
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	reader.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("landed %d transitions, %d listings", landed.Load(), listings.Load())
	require.Positive(t, listings.Load(), "the reader listed")
	require.Positive(t, landed.Load())

	checkListedExactly(t, b, ids)
	b.clock.Advance(2 * time.Minute)
	rep, err := b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, rep.Scanned, rep.RemovedTerminal+rep.RemovedStale+rep.RemovedDangling+rep.Kept)
	require.Empty(t, rep.Unresolved)
	checkIndexExact(t, b, ids)
	checkListedExactly(t, b, ids)
}

// Four workers cycle 40 batches through three states while a janitor
// reconciles and a reader lists all three states 20,000 times (2,000 under
// -short): every batch is in a listed state at every instant, so every
// List that answers returns all 40 — even those that moved between two
// buckets during the call.
func TestChurnListNeverMisses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lists := 20000
	if testing.Short() {
		lists = 2000
	}
	m := batchstate.Machine{
		States:      []string{"a", "b", "c"},
		Transitions: map[string][]string{"a": {"b", "c"}, "b": {"a", "c"}, "c": {"a", "b"}},
	}
	store := memory.New()
	o, err := batchstate.New(store, store, m, batchstate.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	const n, workers = 40, 4
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%02d", i)
		_, err := o.Create(ctx, storage.Batch{Queue: "q", ID: ids[i], State: m.States[i%3]})
		require.NoError(t, err)
	}
	var stop atomic.Bool
	var listed, refused, moved, reconciled atomic.Int64
	errs := make(chan error, workers+2)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer stop.Store(true)
		for listed.Load() < int64(lists) {
			got, err := o.List(ctx, "q", "a", "b", "c")
			if errors.Is(err, storage.ErrConflict) {
				refused.Add(1)
				continue
			}
			if err != nil {
				errs <- err
				return
			}
			if g := batchIDs(got); len(g) != n {
				slices.Sort(g)
				errs <- fmt.Errorf("list %d returned %d of %d batches: %v", listed.Load(), len(g), n, g)
				return
			}
			listed.Add(1)
		}
	})
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for !stop.Load() {
				cur, err := store.GetBatch(ctx, "q", ids[rng.IntN(n)])
				if err == nil {
					next := m.Transitions[cur.State]
					_, err = o.Transition(ctx, cur, next[rng.IntN(len(next))])
				}
				if err != nil && !errors.Is(err, storage.ErrConflict) {
					errs <- err
					return
				}
				moved.Add(1)
				time.Sleep(50 * time.Microsecond) // let the reader run between moves
			}
		})
	}
	wg.Go(func() {
		for first := true; first || !stop.Load(); first = false { // at least once
			if _, err := o.Reconcile(ctx, "q"); err != nil {
				errs <- err
				return
			}
			reconciled.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("%d lists, 0 missed, %d refused during a Reconcile; %d moves, %d reconciles",
		listed.Load(), refused.Load(), moved.Load(), reconciled.Load())
	require.Equal(t, int64(lists), listed.Load())
	require.Positive(t, reconciled.Load())
}
