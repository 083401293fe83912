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

// A prune that crashed between two of its operation deletions leaves a
// terminal apply with part of its plan. A CreatePlan of another plan
// whose operations are exactly what is left must not take that for its
// own plan, complete: the id belongs to the plan that took its lock, and
// a pruned id is never reused (storage.ErrAlreadyExists).
func TestCreatePlanOverAHalfPrunedApply(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	l := newLister(t, store)
	_, _, err := l.p.CreatePlan(ctx, plan("a1", "x", "y"))
	require.NoError(t, err)
	_, err = l.p.Stop(ctx, "a1")
	require.NoError(t, err)
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
