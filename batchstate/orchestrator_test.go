package batchstate_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

func TestCreateAndTransition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	x := b.create(t, "x", "created")
	require.Equal(t, int64(1), x.Version)
	require.Equal(t, x.CreatedAt, x.UpdatedAt)
	require.Equal(t, []string{"x"}, b.ids(t, "created"))
	require.Equal(t, map[string]int64{"x": 1}, b.rows(t, "created"))

	x2, err := b.o.Transition(ctx, x, "speculating")
	require.NoError(t, err)
	require.Equal(t, int64(2), x2.Version)
	require.Equal(t, "speculating", x2.State)
	require.True(t, x2.UpdatedAt.After(x.UpdatedAt))
	require.Empty(t, b.ids(t, "created"))
	require.Equal(t, []string{"x"}, b.ids(t, "speculating"))
	require.Equal(t, map[string]int64{"x": 1}, b.rows(t, "created"), "the previous row stays until Reconcile")
	require.Equal(t, map[string]int64{"x": 2}, b.rows(t, "speculating"), "the new row carries the new version")
	rep, err := b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, 1, rep.RemovedStale)
	require.Empty(t, b.rows(t, "created"), "Reconcile removed the row of the state left")

	// Into a terminal state: the row of the last state goes with it.
	x3, err := b.o.Transition(ctx, x2, "cancelling")
	require.NoError(t, err)
	_, err = b.o.Transition(ctx, x3, "cancelled")
	require.NoError(t, err)
	require.Empty(t, b.rows(t, "cancelling"))
	_, err = b.o.List(ctx, "q", "speculating")
	require.NoError(t, err)
	for _, s := range mq.States {
		if !mq.IsTerminal(s) {
			require.Empty(t, b.rows(t, s), s)
		}
	}
}

func TestListResolvesWithOneGetBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	for i := range 150 {
		bt := b.create(t, fmt.Sprintf("b%03d", i), "created")
		if i%3 == 1 {
			_, err := b.o.Transition(ctx, bt, "speculating")
			require.NoError(t, err)
		}
	}
	// A stray row in a third bucket for a batch listed under another state.
	require.NoError(t, b.store.AddMember(ctx, storage.Member{Queue: "q", State: "merging", BatchID: "b001", Version: 9}))
	b.spy.reset()
	got, err := b.o.List(ctx, "q", "created", "speculating", "merging", "created")
	require.NoError(t, err)
	require.Len(t, got, 150, "each batch once")
	require.Equal(t, 1, b.spy.count(mGetBatches), "one GetBatches for all 150 candidates")
	require.Equal(t, 3, b.spy.count(mListMembers), "states are deduplicated")
	require.Equal(t, 1, b.spy.count(mGetBatch), "the lease, once")
	require.Zero(t, b.spy.writes(), "nothing to clean up on a quiet queue")
	for i := 1; i < len(got); i++ {
		require.True(t, got[i-1].CreatedAt.Before(got[i].CreatedAt), "ordered by CreatedAt")
	}
}

func TestListOrdersByCreatedAtThenID(t *testing.T) {
	t.Parallel()
	same := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := setup(t, mq)
	o, err := batchstate.New(b.store, b.store, mq, batchstate.WithClock(func() time.Time { return same }))
	require.NoError(t, err)
	for _, id := range []string{"c", "a", "b"} {
		_, err := o.Create(context.Background(), storage.Batch{Queue: "q", ID: id, State: "created"})
		require.NoError(t, err)
	}
	got, err := o.List(context.Background(), "q", "created")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, []string{got[0].ID, got[1].ID, got[2].ID})
}

func TestListFiltersByQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	b.create(t, "x", "created")
	_, err := b.o.Create(ctx, storage.Batch{Queue: "other", ID: "y", State: "created"})
	require.NoError(t, err)
	require.Equal(t, []string{"x"}, b.ids(t, "created"))
}

func TestAddMemberFailureCreatesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	b.spy.failNext(mAddMember)
	_, err := b.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "created"})
	require.ErrorIs(t, err, errInjected)
	require.Zero(t, b.spy.count(mCreateBatch))
	_, err = b.store.GetBatch(ctx, "q", "x")
	require.ErrorIs(t, err, storage.ErrNotFound)
}

func TestBatchCreateFailureKeepsRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	b.spy.failNext(mCreateBatch)
	_, err := b.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "created"})
	require.ErrorIs(t, err, errInjected)
	require.Contains(t, b.rows(t, "created"), "x", "a returned error does not prove the batch was not written: the row stays")
	require.Empty(t, b.ids(t, "created"), "a row without a batch is not listed")
	require.Contains(t, b.rows(t, "created"), "x", "and List does not delete it")

	b.create(t, "x", "created") // the retry
	require.Equal(t, []string{"x"}, b.ids(t, "created"))
}

func TestDuplicateCreateKeepsOriginal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	first, err := b.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "speculating", Payload: []byte("first")})
	require.NoError(t, err)
	_, err = b.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "created", Payload: []byte("second")})
	require.ErrorIs(t, err, storage.ErrAlreadyExists)
	got, err := b.o.List(ctx, "q", "created", "speculating")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, first, got[0])
}

func TestLostCAS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	x := b.create(t, "x", "created")
	_, err := b.o.Transition(ctx, x, "speculating") // a rival wins
	require.NoError(t, err)

	got, err := b.o.Transition(ctx, x, "cancelling") // from a stale read
	require.ErrorIs(t, err, storage.ErrConflict)
	require.Equal(t, x, got, "the original batch is returned")
	require.ErrorContains(t, err, `stored: "speculating" at version 2`)
	require.Contains(t, b.rows(t, "cancelling"), "x", "the stray row stays")
	require.Empty(t, b.ids(t, "cancelling"), "and is filtered on read")
	require.Equal(t, []string{"x"}, b.ids(t, "speculating"))

	rep, err := b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, 2, rep.RemovedStale, "the stray row and the created row")
	require.Equal(t, 1, rep.Kept)
	require.Empty(t, b.rows(t, "cancelling"))
	require.Empty(t, b.rows(t, "created"))
}

func TestRemovalFailureAfterCAS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	x := b.create(t, "x", "merging")
	b.spy.failNext(mRemoveMember)
	x2, err := b.o.Transition(ctx, x, "failed")
	require.NoError(t, err, "removal is best-effort")
	require.Equal(t, "failed", x2.State)
	require.Equal(t, 1, b.spy.count(mRemoveMember))
	require.Contains(t, b.rows(t, "merging"), "x", "the removal failed: the old row is left")

	rep, err := b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, 1, rep.RemovedTerminal)
	require.Empty(t, b.rows(t, "merging"), "Reconcile removes the leftover row")
}

func TestDanglingRowGrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq, batchstate.WithDanglingGrace(time.Minute))
	require.NoError(t, b.store.AddMember(ctx, storage.Member{Queue: "q", State: "created", BatchID: "ghost", Version: 1, AddedAt: b.clock.Now()}))
	b.create(t, "live", "created")
	require.Equal(t, []string{"live"}, b.ids(t, "created"))

	rep, err := b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, batchstate.ReconcileReport{Scanned: 2, Kept: 2, Unresolved: []string{"ghost"}}, rep)
	require.Contains(t, b.rows(t, "created"), "ghost", "inside the grace period the row is kept")

	b.clock.Advance(2 * time.Minute)
	rep, err = b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, batchstate.ReconcileReport{Scanned: 2, RemovedDangling: 1, Fenced: 1, Kept: 1, Unresolved: []string{"ghost"}}, rep)
	require.Equal(t, map[string]int64{"live": 1}, b.rows(t, "created"))
	ghost := b.get(t, "ghost")
	require.Equal(t, batchstate.Abandoned, ghost.State, "a tombstone fences the create off")

	// The create, slow but alive, now fails instead of storing a batch
	// with no row.
	_, err = b.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "ghost", State: "created"})
	require.ErrorIs(t, err, storage.ErrAlreadyExists)
	_, err = b.o.Create(ctx, storage.Batch{Queue: "q", ID: "ghost", State: "created"})
	require.ErrorIs(t, err, storage.ErrAlreadyExists)
	require.Contains(t, b.rows(t, "created"), "ghost", "the retry added its row first")
	require.Equal(t, []string{"live"}, b.ids(t, "created"), "the abandoned id is never listed")
	require.Equal(t, map[string]int64{"live": 1}, b.rows(t, "created"), "and List removed its row: the batch is final")
}

func TestListHealsTerminalRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	x := b.create(t, "x", "merging")
	b.spy.failNext(mRemoveMember)
	_, err := b.o.Transition(ctx, x, "succeeded")
	require.NoError(t, err)
	require.Contains(t, b.rows(t, "merging"), "x", "the removal failed")
	require.Empty(t, b.ids(t, "merging"))
	require.Empty(t, b.rows(t, "merging"), "List removed the row of a terminal batch")
}

func TestReconcileCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq, batchstate.WithDanglingGrace(time.Minute))
	b.create(t, "live", "created")
	fin := b.create(t, "fin", "merging")
	_, err := b.o.Transition(ctx, fin, "failed")
	require.NoError(t, err)
	moving := b.create(t, "moving", "created")
	now := b.clock.Now()
	for _, m := range []storage.Member{
		{Queue: "q", State: "merging", BatchID: "fin", Version: 1, AddedAt: now},                     // terminal
		{Queue: "q", State: "speculating", BatchID: "moving", Version: 2, AddedAt: now},              // a transition in flight
		{Queue: "q", State: "cancelling", BatchID: "gone", Version: 1, AddedAt: now.Add(-time.Hour)}, // dangling, past grace
	} {
		require.NoError(t, b.store.AddMember(ctx, m))
	}
	rep, err := b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, batchstate.ReconcileReport{Scanned: 5, RemovedTerminal: 1, RemovedDangling: 1, Fenced: 1, Kept: 3, Unresolved: []string{"gone"}}, rep)
	require.Contains(t, b.rows(t, "speculating"), "moving", "a row newer than its batch belongs to a transition in flight")

	// The transition lands: the created row goes with it.
	moved, err := b.o.Transition(ctx, moving, "speculating")
	require.NoError(t, err)
	require.Equal(t, []string{"moving"}, b.ids(t, "speculating"))

	// A transition that crashes before its CAS leaves a row newer than its
	// batch; once older than the grace, Reconcile removes it.
	b.spy.failNext(mUpdateBatch)
	_, err = b.o.Transition(ctx, moved, "cancelling")
	require.ErrorIs(t, err, errInjected)
	require.Contains(t, b.rows(t, "cancelling"), "moving")
	rep, err = b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, 1, rep.RemovedStale, "only the created row the move left")
	require.Contains(t, b.rows(t, "cancelling"), "moving", "inside the grace it may still be in flight")
	b.clock.Advance(2 * time.Minute)
	rep, err = b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, 1, rep.RemovedStale, "the fenced row")
	require.Equal(t, 1, rep.Fenced)
	require.Empty(t, b.rows(t, "cancelling"))
	require.Equal(t, map[string]int64{"moving": moved.Version}, b.rows(t, "speculating"))
	fenced := b.get(t, "moving")
	require.Equal(t, "speculating", fenced.State, "the fence changes no field")
	require.Equal(t, moved.Payload, fenced.Payload)
	require.Equal(t, moved.Version+1, fenced.Version, "the fence bumped the version, so the crashed CAS can never land")
	_, err = b.o.Transition(ctx, moved, "cancelling")
	require.ErrorIs(t, err, storage.ErrConflict)
}

// A caller retrying a crashed transition while Reconcile decides to remove
// the crashed row re-adds the same row (same version); Reconcile must not
// remove it from under the batch.
func TestReconcileRacesRetryOfCrashedTransition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq, batchstate.WithDanglingGrace(time.Minute))
	x := b.create(t, "x", "created")
	b.spy.failNext(mUpdateBatch)
	_, err := b.o.Transition(ctx, x, "speculating") // crashes before its CAS
	require.ErrorIs(t, err, errInjected)
	require.Equal(t, map[string]int64{"x": 2}, b.rows(t, "speculating"))
	b.clock.Advance(2 * time.Minute)

	// The retry, on an orchestrator past the spy, lands at Reconcile's
	// first write, after it read the rows and the batch.
	retry, err := batchstate.New(b.store, b.store, mq, batchstate.WithClock(b.clock.Now))
	require.NoError(t, err)
	var retried storage.Batch
	var once sync.Once
	b.spy.setHook(func(ctx context.Context, m storagetest.Method) error {
		if m == mUpdateBatch || m == mRemoveMember {
			once.Do(func() { retried, err = retry.Transition(ctx, x, "speculating") })
		}
		return nil
	})
	rep, rerr := b.o.Reconcile(ctx, "q")
	require.NoError(t, rerr)
	require.NoError(t, err, "the retry")
	require.Equal(t, "speculating", retried.State)
	require.Zero(t, rep.RemovedStale, "the fence lost to the retry")
	require.Equal(t, map[string]int64{"x": 2}, b.rows(t, "speculating"), "the live row survives")
	require.Equal(t, []string{"x"}, b.ids(t, "speculating"))
}

func TestReconcileFenceFailureIsReported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq, batchstate.WithDanglingGrace(time.Minute))
	x := b.create(t, "x", "created")
	b.spy.failNext(mUpdateBatch)
	_, err := b.o.Transition(ctx, x, "speculating")
	require.ErrorIs(t, err, errInjected)
	b.clock.Advance(2 * time.Minute)
	b.spy.failNext(mUpdateBatch)
	rep, err := b.o.Reconcile(ctx, "q")
	require.ErrorIs(t, err, errInjected)
	require.Equal(t, batchstate.ReconcileReport{Scanned: 2, Kept: 2}, rep)
	require.Contains(t, b.rows(t, "speculating"), "x", "no removal without a fence")
	require.Equal(t, int64(1), b.get(t, "x").Version)
}

func TestReconcileRemovalFailureIsReported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	x := b.create(t, "x", "created")
	b.create(t, "y", "created")
	_, err := b.o.Transition(ctx, x, "speculating")
	require.NoError(t, err)
	b.spy.failNext(mRemoveMember)
	rep, err := b.o.Reconcile(ctx, "q")
	require.ErrorIs(t, err, errInjected, "a failed removal is returned")
	require.ErrorContains(t, err, `"x"`)
	require.Equal(t, batchstate.ReconcileReport{Scanned: 3, Kept: 3}, rep, "and counted as kept")
	rep, err = b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, batchstate.ReconcileReport{Scanned: 3, RemovedStale: 1, Kept: 2}, rep)
}

// While one Reconcile holds the queue's lease, a second one keeps the rows
// of live batches for later and a List that cannot get a quiet read
// returns ErrConflict; a lease left held by a Reconcile that could not
// release it blocks List only for the lease's duration, after which the
// next Reconcile takes it over.
func TestReconcileLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq, batchstate.WithListRetry(2, 0))
	x := b.create(t, "x", "created")
	_, err := b.o.Transition(ctx, x, "speculating") // leaves (created, x) for Reconcile
	require.NoError(t, err)

	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	b.spy.setHook(func(_ context.Context, m storagetest.Method) error {
		if m == mRemoveMember {
			once.Do(func() { close(reached); <-release })
		}
		return nil
	})
	first := make(chan error, 1)
	go func() { _, err := b.o.Reconcile(ctx, "q"); first <- err }()
	<-reached // the first Reconcile holds the lease, its removal held

	second, err := batchstate.New(b.store, b.store, mq, batchstate.WithClock(b.clock.Now), batchstate.WithListRetry(2, 0))
	require.NoError(t, err)
	rep, err := second.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, batchstate.ReconcileReport{Scanned: 2, Kept: 2}, rep, "the lease is held: the stale row waits")
	_, err = second.List(ctx, "q", "created", "speculating")
	require.ErrorIs(t, err, storage.ErrConflict, "no answer while rows may be disappearing")
	close(release)
	require.NoError(t, <-first)
	got, err := second.List(ctx, "q", "created", "speculating")
	require.NoError(t, err)
	require.Equal(t, []string{"x"}, batchIDs(got))

	// A Reconcile whose release fails leaves the lease held.
	y := b.create(t, "y", "created")
	_, err = b.o.Transition(ctx, y, "speculating")
	require.NoError(t, err)
	var removed atomic.Bool
	b.spy.setHook(func(_ context.Context, m storagetest.Method) error {
		switch {
		case m == mRemoveMember:
			removed.Store(true)
		case m == mUpdateBatch && removed.Load():
			return errInjected // the release, both attempts
		}
		return nil
	})
	_, err = b.o.Reconcile(ctx, "q")
	require.ErrorIs(t, err, errInjected)
	b.spy.setHook(nil)
	_, err = second.List(ctx, "q", "speculating")
	require.ErrorIs(t, err, storage.ErrConflict)
	b.clock.Advance(batchstate.DefaultReconcileLease + time.Second)
	got, err = second.List(ctx, "q", "speculating")
	require.NoError(t, err, "the lease expired")
	require.Equal(t, []string{"x", "y"}, batchIDs(got))
	_, err = second.Transition(ctx, got[0], "cancelling") // leaves a stale row for the takeover
	require.NoError(t, err)
	rep, err = second.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, 1, rep.RemovedStale, "the next Reconcile took the lease over")
	lease := b.get(t, batchstate.LeaseID)
	require.Equal(t, "idle", lease.State, "and released it")
}
