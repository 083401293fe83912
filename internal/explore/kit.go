package explore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// racers is how many goroutines race one compare-and-swap.
const racers = 16

// Race runs racers updates from the same version: exactly one wins, the
// others get ErrConflict, and the stored row is the winner's. round names
// the attempt in failures.
func Race(t *testing.T, round int, update func(i int) (string, error), read func() (string, int64)) {
	t.Helper()
	var (
		mu        sync.Mutex
		winners   []string
		conflicts int
		others    []error
		wg        sync.WaitGroup
		start     = make(chan struct{})
	)
	for i := range racers {
		wg.Go(func() {
			<-start
			state, err := update(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, state)
			case errors.Is(err, storage.ErrConflict):
				conflicts++
			default:
				others = append(others, err)
			}
		})
	}
	close(start)
	wg.Wait()
	require.Empty(t, others, "round %d", round)
	require.Len(t, winners, 1, "round %d: exactly one of %d writers wins, the others conflict: a compare-and-swap is atomic", round, racers)
	require.Equal(t, racers-1, conflicts, "round %d", round)
	state, version := read()
	require.Equal(t, winners[0], state, "round %d: the stored row is the winner's", round)
	require.Equal(t, int64(2), version, "round %d", round)
}

// RowsOf lists a bucket as batch id → version.
func RowsOf(t *testing.T, ctx context.Context, s storage.Store, queue, state string) map[string]int64 {
	t.Helper()
	ms, err := s.ListMembers(ctx, queue, state)
	require.NoError(t, err)
	out := make(map[string]int64, len(ms))
	for _, m := range ms {
		require.Equal(t, queue, m.Queue)
		require.Equal(t, state, m.State)
		_, dup := out[m.BatchID]
		require.False(t, dup, "row %q listed twice", m.BatchID)
		out[m.BatchID] = m.Version
	}
	return out
}

// BatchIDs returns the ids of bs, sorted.
func BatchIDs(bs []storage.Batch) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.ID
	}
	sort.Strings(out)
	return out
}

// Parallel runs each named case as a parallel subtest with a store.
func Parallel(t *testing.T, newStore func(t *testing.T) storage.Store, cases map[string]func(t *testing.T, ctx context.Context, s storage.Store)) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c(t, context.Background(), newStore(t))
		})
	}
}

// SeedListQueue fills a fresh queue of store with n live batches spread
// over states plus n/2 stale rows (rows of batches that moved on), fault
// free, and returns the queue. It is exported so that backend packages can
// measure their own floors on the same data.
func SeedListQueue(ctx context.Context, store storage.Store, n int, states []string) (string, error) {
	m := batchstate.Machine{States: append(slices.Clone(states), "done"), Terminal: []string{"done"}}
	o, err := batchstate.New(store, store, m)
	if err != nil {
		return "", err
	}
	queue := UniqueID(fmt.Sprintf("bench%d", n))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range n {
		g.Go(func() error {
			id := fmt.Sprintf("b%05d", i)
			first := states[0]
			if i%2 == 1 {
				first = states[1%len(states)]
			}
			bt, err := o.Create(gctx, storage.Batch{Queue: queue, ID: id, State: first, Payload: []byte(id)})
			if err != nil {
				return err
			}
			if to := states[i%len(states)]; to != first {
				if _, err := o.Transition(gctx, bt, to); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	// The moves left the rows of the states they left: clear them, so the
	// queue holds exactly the stale rows added below.
	if _, err := o.Reconcile(ctx, queue); err != nil {
		return "", err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := 0; i < n; i += 2 { // a stale row: the batch is not in this state any more
		g.Go(func() error {
			stale := states[(i+1)%len(states)]
			id := fmt.Sprintf("b%05d", i)
			return store.AddMember(gctx, storage.Member{Queue: queue, State: stale, BatchID: id, Version: 1, AddedAt: time.Now()})
		})
	}
	return queue, g.Wait()
}
