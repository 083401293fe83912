package faultstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/faultstore"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

func faultBatch(id string) storage.Batch {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	return storage.Batch{Queue: "q", ID: id, State: "s", CreatedAt: now, UpdatedAt: now}
}

func TestFaultStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("FailBeforeWritesNothing", func(t *testing.T) {
		t.Parallel()
		fs := faultstore.New(memory.New())
		_, err := fs.Inject(faultstore.Fault{Mode: faultstore.FailBefore, Call: 1})
		require.NoError(t, err)
		_, err = fs.CreateBatch(ctx, faultBatch("a"))
		require.ErrorIs(t, err, faultstore.ErrInjected)
		_, err = fs.Inner().GetBatch(ctx, "q", "a")
		require.ErrorIs(t, err, storage.ErrNotFound)
		require.Equal(t, 1, fs.Calls(faultstore.CreateBatch))
		require.Equal(t, 1, fs.Writes())
		require.Equal(t, 1, fs.Hits())
	})

	t.Run("FailAfterWritesAndFails", func(t *testing.T) {
		t.Parallel()
		fs := faultstore.New(memory.New())
		boom := errors.New("boom")
		_, err := fs.Inject(faultstore.Fault{Mode: faultstore.FailAfter, Call: 1, Err: boom})
		require.NoError(t, err)
		got, err := fs.CreateBatch(ctx, faultBatch("a"))
		require.ErrorIs(t, err, boom)
		require.Zero(t, got)
		stored, err := fs.Inner().GetBatch(ctx, "q", "a")
		require.NoError(t, err)
		require.Equal(t, int64(1), stored.Version)
	})

	t.Run("KthMatchingCallOnly", func(t *testing.T) {
		t.Parallel()
		fs := faultstore.New(memory.New())
		_, err := fs.Inject(faultstore.Fault{Mode: faultstore.FailBefore, Call: 2, Methods: []faultstore.Method{faultstore.CreateBatch}})
		require.NoError(t, err)
		_, err = fs.GetBatch(ctx, "q", "x") // not matched
		require.ErrorIs(t, err, storage.ErrNotFound)
		_, err = fs.CreateBatch(ctx, faultBatch("a"))
		require.NoError(t, err)
		_, err = fs.CreateBatch(ctx, faultBatch("b"))
		require.ErrorIs(t, err, faultstore.ErrInjected)
		_, err = fs.CreateBatch(ctx, faultBatch("c"))
		require.NoError(t, err)
		require.Equal(t, map[faultstore.Method]int{faultstore.GetBatch: 1, faultstore.CreateBatch: 3}, fs.Counts())
		require.Equal(t, 4, fs.TotalCalls())
		require.Equal(t, 3, fs.Writes())
	})

	t.Run("WritesOnlyEveryCall", func(t *testing.T) {
		t.Parallel()
		fs := faultstore.New(memory.New())
		_, err := fs.Inner().CreateBatch(ctx, faultBatch("a"))
		require.NoError(t, err)
		_, err = fs.Inject(faultstore.Fault{Mode: faultstore.FailBefore, WritesOnly: true})
		require.NoError(t, err)
		_, err = fs.GetBatch(ctx, "q", "a")
		require.NoError(t, err)
		require.ErrorIs(t, fs.AddMember(ctx, storage.Member{Queue: "q", State: "s", BatchID: "a", Version: 1}), faultstore.ErrInjected)
		require.ErrorIs(t, fs.RemoveMember(ctx, "q", "s", "a", 1), faultstore.ErrInjected)
		fs.ClearFaults()
		require.NoError(t, fs.AddMember(ctx, storage.Member{Queue: "q", State: "s", BatchID: "a", Version: 1}))
		fs.ResetCounts()
		require.Zero(t, fs.TotalCalls())
		require.Zero(t, fs.Hits())
	})

	t.Run("BlockUntilReleased", func(t *testing.T) {
		t.Parallel()
		fs := faultstore.New(memory.New())
		release := make(chan struct{})
		in, err := fs.Inject(faultstore.Fault{Mode: faultstore.Block, Call: 1, Release: release})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { _, err := fs.CreateBatch(ctx, faultBatch("a")); done <- err }()
		<-in.Reached()
		_, err = fs.Inner().GetBatch(ctx, "q", "a")
		require.ErrorIs(t, err, storage.ErrNotFound, "a blocked call must not have run yet")
		close(release)
		require.NoError(t, <-done)
		_, err = fs.Inner().GetBatch(ctx, "q", "a")
		require.NoError(t, err)
	})

	t.Run("BlockHonoursContext", func(t *testing.T) {
		t.Parallel()
		fs := faultstore.New(memory.New())
		_, err := fs.Inject(faultstore.Fault{Mode: faultstore.Block})
		require.NoError(t, err)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = fs.GetBatch(cctx, "q", "a")
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("BadFault", func(t *testing.T) {
		t.Parallel()
		fs := faultstore.New(memory.New())
		_, err := fs.Inject(faultstore.Fault{})
		require.ErrorIs(t, err, storage.ErrInvalid)
		_, err = fs.Inject(faultstore.Fault{Mode: faultstore.FailAfter, Call: -1})
		require.ErrorIs(t, err, storage.ErrInvalid)
	})

	t.Run("MethodsClassified", func(t *testing.T) {
		t.Parallel()
		writes := 0
		for _, m := range faultstore.Methods() {
			if m.IsWrite() {
				writes++
			}
		}
		require.Len(t, faultstore.Methods(), 17)
		require.Equal(t, 11, writes)
		for _, m := range []faultstore.Method{faultstore.DeleteBatch, faultstore.DeleteApply, faultstore.DeleteOperation} {
			require.True(t, m.IsWrite(), m)
			require.Equal(t, faultstore.ClassRemoveMember, m.Class(), "the conditional deletes' column")
		}
	})
}

func TestFaultStoreCountsConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fs := faultstore.New(memory.New())
	b, err := fs.CreateBatch(ctx, faultBatch("a"))
	require.NoError(t, err)
	_, err = fs.UpdateBatch(ctx, b, b.Version, b.State)
	require.NoError(t, err)
	require.Zero(t, fs.Conflicts())
	_, err = fs.UpdateBatch(ctx, b, b.Version, b.State)
	require.ErrorIs(t, err, storage.ErrConflict)
	require.Equal(t, 1, fs.Conflicts())
	require.NoError(t, fs.AddMember(ctx, storage.Member{Queue: "q", State: "s", BatchID: "a", Version: 2}))
	require.ErrorIs(t, fs.AddMember(ctx, storage.Member{Queue: "q", State: "s", BatchID: "a", Version: 1}), storage.ErrConflict)
	require.Equal(t, 2, fs.Conflicts(), "an AddMember that found a newer row counts too")
	fs.ResetCounts()
	require.Zero(t, fs.Conflicts())
}
