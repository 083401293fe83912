package explore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// cyclicMachine cycles a → b → a with a side trip through c; nothing is
// terminal, so rows are re-added to buckets they were removed from.
var cyclicMachine = batchstate.Machine{
	States:   []string{"a", "b", "c", "gone"},
	Terminal: []string{"gone"},
	Transitions: map[string][]string{
		"a": {"b"},
		"b": {"a", "c"},
		"c": {"a"},
	},
}

// runConcurrency runs the concurrent areas: cyclic transitions under a
// continuous reader, concurrent sibling drives, and racing membership
// writes. Sizes shrink under -short.
func runConcurrency(t *testing.T, newStore func(t *testing.T) storage.Store, scale func(int) int) {
	// size is full, or short under -short.
	size := func(full, short int) int {
		if testing.Short() {
			return short
		}
		return full
	}
	t.Run("CyclicStress", func(t *testing.T) {
		t.Parallel()
		cyclicStress(t, newStore(t), size(8, 4), scale(size(60, 15)), size(12, 6))
	})
	t.Run("SiblingDrives", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		for r := range scale(size(50, 5)) {
			siblingDrives(t, store, r, 16)
		}
	})
	t.Run("MemberVersions", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		for range scale(size(10, 3)) {
			memberVersions(t, store, 16)
		}
	})
}

func cyclicStress(t *testing.T, store storage.Store, workers, moves, batches int) {
	ctx := context.Background()
	clock := newTestClock()
	o, err := batchstate.New(store, store, cyclicMachine, batchstate.WithClock(clock.Now), batchstate.WithDanglingGrace(crashGrace), batchstate.WithLogger(testLogger(t)))
	require.NoError(t, err)
	queue := UniqueID("cyclic")
	ids := []string{"pinned"}
	_, err = o.Create(ctx, storage.Batch{Queue: queue, ID: "pinned", State: "a"})
	require.NoError(t, err)
	for i := range batches {
		id := fmt.Sprintf("b%02d", i)
		ids = append(ids, id)
		_, err := o.Create(ctx, storage.Batch{Queue: queue, ID: id, State: "a"})
		require.NoError(t, err)
	}

	done := make(chan struct{})
	var readerErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		// The reader lists at least once, however fast the writers finish.
		for listings := 0; ; listings++ {
			if listings > 0 {
				select {
				case <-done:
					return
				default:
				}
			}
			got, err := o.List(ctx, queue, "a", "b", "c")
			if err != nil {
				readerErr = err
				return
			}
			// Nothing ever goes terminal here: every listing returns every
			// batch, each once, in the state it is stored in at some
			// moment of the listing (so one of the listed states).
			seen := make(map[string]bool, len(got))
			for _, b := range got {
				if seen[b.ID] {
					readerErr = fmt.Errorf("listing %d: %q listed twice", listings, b.ID)
					return
				}
				seen[b.ID] = true
				if b.Queue != queue || !slices.Contains([]string{"a", "b", "c"}, b.State) {
					readerErr = fmt.Errorf("listing %d: %q listed from queue %q in state %q", listings, b.ID, b.Queue, b.State)
					return
				}
			}
			var missing []string
			for _, id := range ids {
				if !seen[id] {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 || len(got) != len(ids) {
				readerErr = fmt.Errorf("listing %d: %d of %d batches listed, missing %q", listings, len(got), len(ids), missing)
				return
			}
		}
	})

	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range moves {
				if err := moveRandomly(ctx, store, o, cyclicMachine, queue, ids[1+rng.IntN(batches)], rng); err != nil {
					return err
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	close(done)
	wg.Wait()
	require.NoError(t, readerErr)

	list := func(ctx context.Context, queue string, states ...string) ([]storage.Batch, error) {
		return o.List(ctx, queue, states...)
	}
	require.NoError(t, CheckListed(ctx, store, list, cyclicMachine, queue, ids))
	clock.Advance(2 * crashGrace)
	_, err = o.Reconcile(ctx, queue)
	require.NoError(t, err)
	require.NoError(t, CheckIndexExact(ctx, store, cyclicMachine, queue, ids))
}

// siblingDrives drives n sibling operations of one apply concurrently to
// completion, every third failing under the continue policy, and checks
// the final state and that exactly one caller terminalized.
func siblingDrives(t *testing.T, store storage.Store, round, n int) {
	ctx := context.Background()
	clock := newTestClock()
	var terminalized sync.Map
	p, err := applystate.NewProjector(store, store, applystate.WithClock(clock.Now), applystate.WithLogger(testLogger(t)))
	require.NoError(t, err)
	applyID := UniqueID(fmt.Sprintf("siblings%d", round))
	now := clock.Now()
	_, err = store.CreateApply(ctx, storage.Apply{ID: applyID, State: string(applystate.Pending), CreatedAt: now, UpdatedAt: now})
	require.NoError(t, err)
	for i := range n {
		_, err := store.CreateOperation(ctx, storage.Operation{
			ApplyID: applyID, ID: fmt.Sprintf("op%02d", i), Seq: int64(i), Deployment: fmt.Sprintf("dep%02d", i),
			State: string(applystate.Pending), OnFailure: string(applystate.Continue), CreatedAt: now, UpdatedAt: now,
		})
		require.NoError(t, err)
	}
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			id := fmt.Sprintf("op%02d", i)
			final := applystate.Completed
			if i%3 == 0 {
				final = applystate.Failed
			}
			for _, s := range []applystate.State{applystate.Running, final} {
				for attempt := 0; ; attempt++ {
					r, err := p.Drive(ctx, applyID, []applystate.Task{{OperationID: id, State: s, ErrorMessage: "boom " + id}})
					if errors.Is(err, storage.ErrConflict) && attempt < 20 {
						continue // the projector gave up under contention; a caller retries
					}
					if err != nil {
						return fmt.Errorf("%s → %s: %w", id, s, err)
					}
					if r.Terminalized {
						terminalized.Store(id+"/"+string(s), true)
					}
					break
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	require.NoError(t, CheckApplyProjected(ctx, store, applyID), "round %d", round)
	a, err := store.GetApply(ctx, applyID)
	require.NoError(t, err)
	require.Equal(t, string(applystate.Failed), a.State, "round %d: every sibling settled and some failed under continue", round)
	count := 0
	terminalized.Range(func(_, _ any) bool { count++; return true })
	require.Equal(t, 1, count, "round %d: exactly one caller terminalizes", round)
}

// memberVersions races n AddMember calls with versions 1..n against
// RemoveMember calls that may only remove older rows; the row with the
// highest version must survive. An AddMember may lose to a newer row
// (ErrConflict), except the highest, which nothing can be newer than.
func memberVersions(t *testing.T, store storage.Store, n int) {
	ctx := context.Background()
	queue := UniqueID("members")
	now := newTestClock().Now()
	var g errgroup.Group
	for v := 1; v <= n; v++ {
		g.Go(func() error {
			err := store.AddMember(ctx, storage.Member{Queue: queue, State: "s", BatchID: "x", Version: int64(v), AddedAt: now})
			if v < n && errors.Is(err, storage.ErrConflict) {
				return nil
			}
			return err
		})
		g.Go(func() error {
			return store.RemoveMember(ctx, queue, "s", "x", int64(v-1))
		})
	}
	require.NoError(t, g.Wait())
	rows, err := store.ListMembers(ctx, queue, "s")
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, int64(n), rows[0].Version)
}
