package batchstate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// reopenable is a machine whose open batches may be rewritten in place.
var reopenable = batchstate.Machine{
	States:      []string{"open", "done"},
	Terminal:    []string{"done"},
	Transitions: map[string][]string{"open": {"open", "done"}},
}

func setupPrune(t *testing.T) *bundle {
	t.Helper()
	return setup(t, reopenable, batchstate.WithIndex("req", requests), batchstate.WithFinishedIndex())
}

// finish creates a batch with requests reqs and moves it to done.
func (b *bundle) finish(t *testing.T, id, reqs string) storage.Batch {
	t.Helper()
	x := b.createWith(t, id, reqs)
	got, err := b.o.Transition(context.Background(), x, "done")
	require.NoError(t, err)
	return got
}

// prune prunes queue "q" of what finished before now, in pages of limit.
func (b *bundle) prune(t *testing.T, limit int) (batchstate.PruneReport, error) {
	t.Helper()
	now := b.clock.Now()
	return b.o.Prune(context.Background(), "q", now.Add(-48*time.Hour), now, limit)
}

func TestPruneTurnsTerminalBatchesIntoTombstones(t *testing.T) {
	t.Parallel()
	b := setupPrune(t)
	for _, id := range []string{"a", "b", "c"} {
		b.finish(t, id, "r-"+id)
	}
	live := b.createWith(t, "live", "r-live")
	rep, err := b.prune(t, 2)
	require.NoError(t, err)
	require.Equal(t, batchstate.PruneReport{Scanned: 2, Pruned: 2, More: true}, rep, "a page of 2")
	rep, err = b.prune(t, 2)
	require.NoError(t, err)
	require.Equal(t, batchstate.PruneReport{Scanned: 1, Pruned: 1}, rep, "the next call resumes")
	rep, err = b.prune(t, 2)
	require.NoError(t, err)
	require.Equal(t, batchstate.PruneReport{}, rep, "nothing left")

	for _, id := range []string{"a", "b", "c"} {
		got := b.get(t, id)
		require.Equal(t, batchstate.Abandoned, got.State, "a tombstone")
		require.Empty(t, got.Payload, "without payload")
		_, err := b.o.Create(context.Background(), storage.Batch{Queue: "q", ID: id, State: "open"})
		require.ErrorIs(t, err, storage.ErrAlreadyExists, "a pruned id is never reused")
		require.Empty(t, b.lookup(t, "r-"+id), "its key rows are gone")
	}
	require.Equal(t, live, b.get(t, "live"), "a live batch is untouched")
	require.Equal(t, []string{"live"}, b.lookup(t, "r-live"))
	finished, err := b.o.ListFinished(context.Background(), "q", b.clock.Now().Add(-48*time.Hour), b.clock.Now())
	require.NoError(t, err)
	require.Empty(t, finished)
	day := "\x00statefold:done:" + b.clock.Now().UTC().Format("2006-01-02")
	require.Empty(t, b.rows(t, day), "the finished rows are gone")

	at := b.clock.Now()
	_, err = b.o.Prune(context.Background(), "q", at, at, 1)
	require.ErrorIs(t, err, storage.ErrInvalid, "an empty interval")
	_, err = b.prune(t, 0)
	require.ErrorIs(t, err, storage.ErrInvalid, "a limit below 1")
}

// Only batches finished before the cutoff go; an unfiled machine refuses.
func TestPruneKeepsWhatFinishedAfterTheCutoff(t *testing.T) {
	t.Parallel()
	b := setupPrune(t)
	b.finish(t, "old", "")
	cutoff := b.clock.Now()
	young := b.finish(t, "young", "")
	rep, err := b.o.Prune(context.Background(), "q", cutoff.Add(-time.Hour), cutoff, 10)
	require.NoError(t, err)
	require.Equal(t, batchstate.PruneReport{Scanned: 2, Pruned: 1, Kept: 1}, rep)
	require.Equal(t, young, b.get(t, "young"))

	plain := setup(t, reopenable)
	_, err = plain.o.Prune(context.Background(), "q", cutoff.Add(-time.Hour), cutoff, 10)
	require.ErrorIs(t, err, storage.ErrInvalid, "without WithFinishedIndex")
}

// A Prune that stopped after the tombstone, before the finished row, is
// finished by the next one.
func TestPruneResumesAfterACrash(t *testing.T) {
	t.Parallel()
	b := setupPrune(t)
	b.finish(t, "x", "r1")
	b.spy.setHook(func(_ context.Context, m storagetest.Method) error {
		if m == mRemoveMember {
			return errInjected
		}
		return nil
	})
	_, err := b.prune(t, 10)
	require.ErrorIs(t, err, errInjected)
	require.Equal(t, batchstate.Abandoned, b.get(t, "x").State)
	b.spy.setHook(nil)
	rep, err := b.prune(t, 10)
	require.NoError(t, err)
	require.Equal(t, batchstate.PruneReport{Scanned: 1, Cleaned: 1}, rep)
	rep, err = b.prune(t, 10)
	require.NoError(t, err)
	require.Zero(t, rep.Scanned)
}

// A Transition into done has added the finished row and is held before
// its compare-and-swap when Prune reads the batch: still open, it is kept;
// the Transition lands and the batch is listed as finished.
func TestPruneKeepsABatchMovingIntoDone(t *testing.T) {
	t.Parallel()
	b := setupPrune(t)
	x := b.createWith(t, "x", "r1")
	reached, release := pauseFirst(b, mUpdateBatch)
	moved := make(chan error, 1)
	go func() { _, err := b.o.Transition(context.Background(), x, "done"); moved <- err }()
	<-reached
	rep, err := b.prune(t, 10)
	require.NoError(t, err)
	require.Equal(t, batchstate.PruneReport{Scanned: 1, Kept: 1}, rep, "not terminal yet: kept")
	close(release)
	require.NoError(t, <-moved)
	b.spy.setHook(nil)
	finished, err := b.o.ListFinished(context.Background(), "q", b.clock.Now().Add(-time.Hour), b.clock.Now())
	require.NoError(t, err)
	require.Equal(t, []string{"x"}, batchIDs(finished), "the finished row survived the prune")
}

// Two Prunes read the same terminal batch; the first swap wins, the other
// is held at its compare-and-swap and then loses: it keeps the row and
// reports no error.
func TestRacingPrunesPruneOnce(t *testing.T) {
	t.Parallel()
	b := setupPrune(t)
	b.finish(t, "x", "r1")
	reached, release := pauseFirst(b, mUpdateBatch)
	type result struct {
		rep batchstate.PruneReport
		err error
	}
	out := make(chan result, 1)
	go func() { rep, err := b.prune(t, 10); out <- result{rep, err} }()
	<-reached
	rep, err := b.prune(t, 10)
	require.NoError(t, err)
	require.Equal(t, batchstate.PruneReport{Scanned: 1, Pruned: 1}, rep)
	close(release)
	got := <-out
	require.NoError(t, got.err)
	require.Equal(t, batchstate.PruneReport{Scanned: 1, Kept: 1}, got.rep, "the held prune lost its swap")
	require.Equal(t, batchstate.Abandoned, b.get(t, "x").State)
	require.Empty(t, b.lookup(t, "r1"))
}

// A pruned batch cannot be moved again: a Transition from the state read
// before the prune is storage.ErrConflict and leaves no row.
func TestTransitionAfterPruneConflicts(t *testing.T) {
	t.Parallel()
	b := setupPrune(t)
	x := b.createWith(t, "x", "r1")
	done, err := b.o.Transition(context.Background(), x, "done")
	require.NoError(t, err)
	rep, err := b.prune(t, 10)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pruned)
	_, err = b.o.Transition(context.Background(), x, "open")
	require.ErrorIs(t, err, storage.ErrConflict)
	require.Empty(t, b.ids(t, "open"), "the refused move leaves no row")
	require.Equal(t, batchstate.Abandoned, b.get(t, "x").State)
	require.NotEqual(t, done.Version, b.get(t, "x").Version)
}

// A key row of a pruned batch left behind at version 2 (its removal failed
// where the network cut it, as the model check saw through faults on
// MariaDB) refuses the row of a new Create of the id first; that Create
// must still fail as the id is taken, with storage.ErrAlreadyExists (it
// failed with a plain ErrConflict).
func TestCreateOfAPrunedIDWithAStaleRowIsTaken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPrune(t)
	b.finish(t, "a", "r-a")
	rep, err := b.prune(t, 10)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pruned)
	stale := storage.Member{Queue: "q", State: "\x00statefold:key:req:r-a", BatchID: "a", Version: 2, AddedAt: b.clock.Now()}
	require.NoError(t, b.store.AddMember(ctx, stale))
	_, err = b.o.Create(ctx, storage.Batch{Queue: "q", ID: "a", State: "open", Payload: []byte("r-a")})
	require.ErrorIs(t, err, storage.ErrAlreadyExists)
	require.NotErrorIs(t, err, storage.ErrConflict)
}
