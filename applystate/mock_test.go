package applystate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/storagemock"
	"github.com/statefold/statefold/storage"
)

var errDisk = errors.New("disk on fire")

// A failing operation write never writes the apply: the mock apply store
// expects the one read that checks the apply is not terminal, so any write
// fails the test.
func TestFailingOperationWriteNeverWritesTheApply(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	applies := storagemock.NewMockApplyStore(ctrl)
	applies.EXPECT().GetApply(gomock.Any(), "a").Return(storage.Apply{ID: "a", State: "running", Version: 5}, nil)
	ops := storagemock.NewMockOperationStore(ctrl)
	op := storage.Operation{ApplyID: "a", ID: "x", State: "pending", Version: 3}
	ops.EXPECT().GetOperation(gomock.Any(), "a", "x").Return(op, nil)
	ops.EXPECT().UpdateOperation(gomock.Any(), gomock.Any(), int64(3)).Return(storage.Operation{}, errDisk)

	p := applystate.NewProjector(applies, ops)
	_, err := p.Drive(context.Background(), "a", []applystate.Task{{OperationID: "x", State: applystate.Completed}})
	require.ErrorIs(t, err, errDisk)
}

// A failing apply write returns the error (and no Result claims a write).
func TestFailingApplyWriteReturnsTheError(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	applies := storagemock.NewMockApplyStore(ctrl)
	ops := storagemock.NewMockOperationStore(ctrl)
	op := storage.Operation{ApplyID: "a", ID: "x", State: "running", Version: 2}
	done := op
	done.State, done.Version = "completed", 3
	ops.EXPECT().GetOperation(gomock.Any(), "a", "x").Return(op, nil)
	ops.EXPECT().UpdateOperation(gomock.Any(), gomock.Any(), int64(2)).Return(done, nil)
	ops.EXPECT().ListOperations(gomock.Any(), "a").Return([]storage.Operation{done}, nil)
	// Read before the operation write, after it, and back after the failed
	// apply write: still at version 5, so the write has not landed yet.
	applies.EXPECT().GetApply(gomock.Any(), "a").Return(storage.Apply{ID: "a", State: "running", Version: 5}, nil).Times(3)
	applies.EXPECT().UpdateApply(gomock.Any(), gomock.Any(), int64(5)).Return(storage.Apply{}, errDisk)

	observed := false
	p := applystate.NewProjector(applies, ops, applystate.WithObserver(func(context.Context, applystate.Result) { observed = true }))
	res, err := p.Drive(context.Background(), "a", []applystate.Task{{OperationID: "x", State: applystate.Completed}})
	require.ErrorIs(t, err, errDisk)
	require.ErrorIs(t, err, applystate.ErrAmbiguous, "the write may still land")
	require.False(t, res.Terminalized)
	require.False(t, observed, "a failed write is not observed")
}

// Conflicts retry the whole read → project → write round, up to the
// attempts, then surface as ErrConflict. The apply read back after each
// conflict (to tell whether the write landed after all) is the next round's
// read; the last one only tells.
func TestConflictsRetryThenGiveUp(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	applies := storagemock.NewMockApplyStore(ctrl)
	applies.EXPECT().GetApply(gomock.Any(), "a").Return(storage.Apply{ID: "a", State: "pending", Version: 1}, nil).Times(4)
	applies.EXPECT().UpdateApply(gomock.Any(), gomock.Any(), int64(1)).Return(storage.Apply{}, storage.ErrConflict).Times(3)
	p := applystate.NewProjector(applies, nil, applystate.WithMaxAttempts(3))
	_, err := p.Drive(context.Background(), "a", []applystate.Task{{State: applystate.Running}})
	require.ErrorIs(t, err, storage.ErrConflict)
}
