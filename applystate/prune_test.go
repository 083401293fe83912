package applystate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// finished returns a bundle whose apply "a" completed, with a payload and
// two operations.
func finished(t *testing.T) *bundle {
	t.Helper()
	b := setup(t, []op{{"o1", ""}, {"o2", ""}})
	a := b.apply(t)
	a.Payload = []byte("plan")
	_, err := b.store.UpdateApply(b.ctx, a, a.Version)
	require.NoError(t, err)
	b.drive(t, "o1", cp)
	r := b.drive(t, "o2", cp)
	require.Equal(t, string(cp), r.Apply.State)
	return b
}

var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

func TestPruneDeletesTheOperationsOfTerminalApplies(t *testing.T) {
	t.Parallel()
	b := finished(t)
	rep, err := b.p.Prune(b.ctx, []string{"a", "missing"}, farFuture)
	require.NoError(t, err)
	require.Equal(t, applystate.PruneReport{Pruned: 1, Operations: 2, Missing: 1}, rep)
	ops, err := b.store.ListOperations(b.ctx, "a")
	require.NoError(t, err)
	require.Empty(t, ops)
	a := b.apply(t)
	require.Equal(t, string(cp), a.State, "the apply row stays, terminal")
	require.Empty(t, a.Payload, "without its payload")
	_, _, err = b.p.CreatePlan(b.ctx, applystate.Plan{Apply: storage.Apply{ID: "a"},
		Operations: []storage.Operation{{ID: "o1", Deployment: "d"}}})
	require.ErrorIs(t, err, storage.ErrAlreadyExists, "a pruned id is never reused")

	rep, err = b.p.Prune(b.ctx, []string{"a"}, farFuture)
	require.NoError(t, err)
	require.Equal(t, applystate.PruneReport{Kept: 1}, rep, "pruned already")
	_, err = b.p.Prune(b.ctx, []string{""}, farFuture)
	require.ErrorIs(t, err, storage.ErrInvalid)
}

// A non-terminal apply, or one completed after the cutoff, is untouched.
func TestPruneKeepsOpenAndRecentApplies(t *testing.T) {
	t.Parallel()
	open := setup(t, []op{{"o1", ""}})
	before := open.apply(t)
	rep, err := open.p.Prune(open.ctx, []string{"a"}, farFuture)
	require.NoError(t, err)
	require.Equal(t, applystate.PruneReport{Kept: 1}, rep)
	require.Equal(t, before, open.apply(t))
	ops, err := open.store.ListOperations(open.ctx, "a")
	require.NoError(t, err)
	require.Len(t, ops, 1)

	done := finished(t)
	rep, err = done.p.Prune(done.ctx, []string{"a"}, done.apply(t).CompletedAt)
	require.NoError(t, err)
	require.Equal(t, applystate.PruneReport{Kept: 1}, rep, "completed at the cutoff: kept")
}

// A write moves an operation on while Prune is held before deleting it
// (an acknowledgement, as a Reproject writes): the delete at the version
// read is a conflict, and Prune reads the row again and deletes it.
func TestPruneRereadsAnOperationWrittenMeanwhile(t *testing.T) {
	t.Parallel()
	b := finished(t)
	reached, release := make(chan struct{}), make(chan struct{})
	held := false
	b.fs.SetHook(func(_ context.Context, m storagetest.Method) error {
		if m == storagetest.DeleteOperation && !held {
			held = true
			close(reached)
			<-release
		}
		return nil
	})
	out := make(chan error, 1)
	var rep applystate.PruneReport
	go func() {
		var err error
		rep, err = b.p.Prune(b.ctx, []string{"a"}, farFuture)
		out <- err
	}()
	<-reached
	o1, err := b.store.GetOperation(b.ctx, "a", "o1")
	require.NoError(t, err)
	_, err = b.store.UpdateOperation(b.ctx, o1, o1.Version)
	require.NoError(t, err)
	close(release)
	require.NoError(t, <-out)
	require.Equal(t, applystate.PruneReport{Pruned: 1, Operations: 2}, rep)
	require.Positive(t, b.fs.Conflicts(), "the first delete lost")
	ops, err := b.store.ListOperations(b.ctx, "a")
	require.NoError(t, err)
	require.Empty(t, ops)
}

// A Reproject of a pruned apply changes nothing.
func TestReprojectOfAPrunedApply(t *testing.T) {
	t.Parallel()
	b := finished(t)
	_, err := b.p.Prune(b.ctx, []string{"a"}, farFuture)
	require.NoError(t, err)
	pruned := b.apply(t)
	_, _ = b.p.Reproject(b.ctx, "a")
	require.Equal(t, pruned, b.apply(t), "the terminal row is kept as it is")
}
