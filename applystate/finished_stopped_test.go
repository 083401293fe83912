package applystate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage/memory"
)

// A stopped apply pruned by id (Prune leaves its finished row) is pruned
// already for PruneFinished, which cleans its row whatever the cutoff —
// although the prune's payload drop moved the UpdatedAt a stopped apply's
// completion is read from past the cutoff. (Kept instead, the row would
// stay in a day the caller's next since has passed, for good.)
func TestPruneFinishedCleansAStoppedApplyPrunedByID(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	l := newLister(t, store)
	_, _, err := l.p.CreatePlan(ctx, payloadPlan("s1", "x"))
	require.NoError(t, err)
	_, err = l.p.Stop(ctx, "s1")
	require.NoError(t, err)
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
