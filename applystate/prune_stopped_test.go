package applystate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// createStopped creates pl's apply, with discovery, and stops it before
// any operation starts: a stopped apply, filed as finished.
func createStopped(t *testing.T, store *memory.Store, pl applystate.Plan) lister {
	t.Helper()
	l := newLister(t, store)
	_, _, err := l.p.CreatePlan(context.Background(), pl)
	require.NoError(t, err)
	_, err = l.p.Stop(context.Background(), pl.Apply.ID)
	require.NoError(t, err)
	return l
}

// A stopped apply pruned by id (Prune leaves its finished row) is pruned
// already for PruneFinished, which cleans its row whatever the cutoff —
// although the prune's payload drop moved the UpdatedAt a stopped apply's
// completion is read from past the cutoff. (Kept instead, the row would
// stay in a day the caller's next since has passed, for good.)
func TestPruneFinishedCleansAStoppedApplyPrunedByID(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	l := createStopped(t, store, payloadPlan("s1", "x"))
	stopped, err := store.GetApply(ctx, "s1")
	require.NoError(t, err)
	require.Equal(t, applystate.Stopped, applystate.State(stopped.State))
	require.Len(t, finishedRows(t, store, discoveryStart), 1, "filed when it stopped")
	cutoff := stopped.UpdatedAt.Add(time.Millisecond) // after the stop, before the prune

	rep, err := l.p.Prune(ctx, []string{"s1"}, l.c.Now().Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pruned)
	requirePruned(t, store, "s1", true)
	pruned, err := store.GetApply(ctx, "s1")
	require.NoError(t, err)
	require.True(t, pruned.UpdatedAt.After(cutoff), "the payload drop stamps a later UpdatedAt")
	require.Len(t, finishedRows(t, store, discoveryStart), 1, "Prune leaves the row")

	rep, err = l.p.PruneFinished(ctx, discoveryStart.Truncate(24*time.Hour), cutoff, 10)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Cleaned, "pruned already: its row is cleaned (%+v)", rep)
	require.Zero(t, rep.Kept)
	require.Empty(t, finishedRows(t, store, discoveryStart))
}

// A prune that crashed between two of its operation deletions leaves a
// terminal apply with part of its plan. A CreatePlan of another plan
// whose operations are exactly what is left must not take that for its
// own plan, complete: the id belongs to the plan that took its lock, and
// a pruned id is never reused (storage.ErrAlreadyExists).
func TestCreatePlanOverAHalfPrunedApply(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	l := createStopped(t, store, plan("a1", "x", "y"))
	// What a Prune that crashed after its first deletion leaves.
	x, err := store.GetOperation(ctx, "a1", "x")
	require.NoError(t, err)
	require.NoError(t, store.DeleteOperation(ctx, "a1", "x", x.Version))

	other := plan("a1", "y")
	other.Operations[0].Seq = 1 // y as the first plan stored it
	_, _, err = l.p.CreatePlan(ctx, other)
	require.ErrorIs(t, err, storage.ErrAlreadyExists, "another plan of a half-pruned apply")
	_, _, err = l.p.CreatePlan(ctx, plan("a1", "x", "y"))
	require.ErrorIs(t, err, storage.ErrAlreadyExists, "its own plan, half pruned")

	rep, err := l.p.Prune(ctx, []string{"a1"}, l.c.Now().Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pruned, "the prune resumes")
	_, _, err = l.p.CreatePlan(ctx, other)
	require.ErrorIs(t, err, storage.ErrAlreadyExists, "a pruned id")
	a, err := store.GetApply(ctx, "a1")
	require.NoError(t, err)
	require.Equal(t, applystate.Stopped, applystate.State(a.State))
}
