package applystate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

var errDisk = errors.New("disk on fire")

// failing arms b's store so that every call of m fails with err before it
// reaches the store.
func failing(t *testing.T, b *bundle, m storagetest.Method, err error) {
	t.Helper()
	_, ierr := b.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Methods: []storagetest.Method{m}, Err: err})
	require.NoError(t, ierr)
}

// A failing operation write never writes the apply.
func TestFailingOperationWriteNeverWritesTheApply(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"x", ""}, {"y", ""}})
	b.drive(t, "x", ru)
	failing(t, b, storagetest.UpdateOperation, errDisk)
	b.fs.ResetCounts()
	_, err := b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "x", State: applystate.Completed}})
	require.ErrorIs(t, err, errDisk)
	require.Zero(t, b.fs.Calls(storagetest.UpdateApply), "calls %v", b.fs.Counts())
}

// A failing apply write returns the error (and no Result claims a write):
// the apply read back is still at the version the write expected, so the
// write may yet land.
func TestFailingApplyWriteReturnsTheError(t *testing.T) {
	t.Parallel()
	observed := false
	b := setup(t, []op{{"x", ""}}, applystate.WithObserver(func(context.Context, applystate.Result) { observed = true }))
	b.drive(t, "x", ru)
	observed = false
	failing(t, b, storagetest.UpdateApply, errDisk)
	res, err := b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "x", State: applystate.Completed}})
	require.ErrorIs(t, err, errDisk)
	require.ErrorIs(t, err, applystate.ErrAmbiguous, "the write may still land")
	require.False(t, res.Terminalized)
	require.False(t, observed, "a failed write is not observed")
	require.Equal(t, string(ru), b.apply(t).State)
}

// Conflicts retry the whole read → project → write round, up to the
// attempts, then surface as ErrConflict.
func TestConflictsRetryThenGiveUp(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := newProjector(t, b.fs, nil, applystate.WithMaxAttempts(3))
	failing(t, b, storagetest.UpdateApply, storage.ErrConflict)
	_, err := p.Drive(b.ctx, "a", []applystate.Task{{State: applystate.Running}})
	require.ErrorIs(t, err, storage.ErrConflict)
	require.Equal(t, 3, b.fs.Calls(storagetest.UpdateApply))
}
