package storagetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/explore"
)

func newBatch(queue, id string) storage.Batch {
	return storage.Batch{Queue: queue, ID: id, State: "queued", Payload: []byte("p-" + id), CreatedAt: ts(0), UpdatedAt: ts(1)}
}

func newApply(id string) storage.Apply {
	return storage.Apply{ID: id, State: "pending", Payload: []byte("a"), CreatedAt: ts(0), UpdatedAt: ts(0)}
}

func newOperation(applyID, id string, seq int64) storage.Operation {
	return storage.Operation{ApplyID: applyID, ID: id, Seq: seq, Deployment: "d-" + id, State: "pending",
		OnFailure: "halt", CreatedAt: ts(0), UpdatedAt: ts(0)}
}

// createBatch creates batch id in state, in a queue of its own, and
// returns it as stored.
func createBatch(t *testing.T, ctx context.Context, s storage.Store, id, state string) storage.Batch {
	t.Helper()
	b, err := s.CreateBatch(ctx, storage.Batch{Queue: UniqueID("q"), ID: id, State: state})
	require.NoError(t, err)
	return b
}

func runCRUD(t *testing.T, newStore func(t *testing.T) storage.Store) {
	explore.Parallel(t, newStore, map[string]func(t *testing.T, ctx context.Context, s storage.Store){
		"Batch": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			in := newBatch(q, "b1")
			in.Version = 42 // ignored
			got, err := s.CreateBatch(ctx, in)
			require.NoError(t, err)
			in.Version = 1
			require.Equal(t, in, got, "create returns the stored row with Version 1")
			requireBatchStored(t, ctx, s, got)

			dup := newBatch(q, "b1")
			dup.State, dup.Payload = "other", []byte("other")
			_, err = s.CreateBatch(ctx, dup)
			require.ErrorIs(t, err, storage.ErrAlreadyExists)
			requireBatchStored(t, ctx, s, got, "a duplicate create leaves the row untouched")

			_, err = s.GetBatch(ctx, q, "missing")
			require.ErrorIs(t, err, storage.ErrNotFound)
			_, err = s.GetBatch(ctx, UniqueID("q"), "b1")
			require.ErrorIs(t, err, storage.ErrNotFound, "a store never reads across queues")
		},
		"GetBatches": func(t *testing.T, ctx context.Context, s storage.Store) {
			q, other := UniqueID("q"), UniqueID("q")
			for i := range 5 {
				_, err := s.CreateBatch(ctx, newBatch(q, fmt.Sprintf("b%d", i)))
				require.NoError(t, err)
			}
			_, err := s.CreateBatch(ctx, newBatch(other, "x"))
			require.NoError(t, err)
			got, err := s.GetBatches(ctx, q, []string{"b3", "missing", "b1", "b3", "x", "b1"})
			require.NoError(t, err)
			require.Equal(t, []string{"b1", "b3"}, explore.BatchIDs(got), "found rows only, each once, no other queue")
			for _, b := range got {
				require.Equal(t, q, b.Queue)
				require.Equal(t, []byte("p-"+b.ID), b.Payload)
			}
			got, err = s.GetBatches(ctx, q, nil)
			require.NoError(t, err)
			require.Empty(t, got)
			got, err = s.GetBatches(ctx, q, []string{})
			require.NoError(t, err)
			require.Empty(t, got)
		},
		"GetBatchesMany": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			var ids []string
			for i := range 230 {
				id := fmt.Sprintf("b%03d", i)
				ids = append(ids, id)
				_, err := s.CreateBatch(ctx, newBatch(q, id))
				require.NoError(t, err)
			}
			got, err := s.GetBatches(ctx, q, append(slices.Clone(ids), ids[:50]...))
			require.NoError(t, err)
			require.Equal(t, ids, explore.BatchIDs(got), "more ids than any one chunk")
		},
		"Apply": func(t *testing.T, ctx context.Context, s storage.Store) {
			id := UniqueID("apply")
			in := newApply(id)
			got, err := s.CreateApply(ctx, in)
			require.NoError(t, err)
			in.Version = 1
			require.Equal(t, in, got)
			dup := newApply(id)
			dup.State = "running"
			_, err = s.CreateApply(ctx, dup)
			require.ErrorIs(t, err, storage.ErrAlreadyExists)
			read, err := s.GetApply(ctx, id)
			require.NoError(t, err)
			require.Equal(t, got, read)
			_, err = s.GetApply(ctx, UniqueID("missing"))
			require.ErrorIs(t, err, storage.ErrNotFound)
		},
		"Operation": func(t *testing.T, ctx context.Context, s storage.Store) {
			a := UniqueID("apply")
			in := newOperation(a, "op", 3)
			got, err := s.CreateOperation(ctx, in)
			require.NoError(t, err)
			in.Version = 1
			require.Equal(t, in, got)
			dup := newOperation(a, "op", 9)
			_, err = s.CreateOperation(ctx, dup)
			require.ErrorIs(t, err, storage.ErrAlreadyExists)
			read, err := s.GetOperation(ctx, a, "op")
			require.NoError(t, err)
			require.Equal(t, got, read)
			_, err = s.GetOperation(ctx, a, "missing")
			require.ErrorIs(t, err, storage.ErrNotFound)
			_, err = s.GetOperation(ctx, UniqueID("apply"), "op")
			require.ErrorIs(t, err, storage.ErrNotFound)

			// An update stores the fields it changes (RoundTrip checks
			// every field, the optional ones included).
			up := read
			up.State, up.StartedAt = "running", ts(1)
			updated, err := s.UpdateOperation(ctx, up, read.Version)
			require.NoError(t, err)
			up.Version = read.Version + 1
			require.Equal(t, up, updated)
			read, err = s.GetOperation(ctx, a, "op")
			require.NoError(t, err)
			require.Equal(t, updated, read)
		},
		"ListOperations": func(t *testing.T, ctx context.Context, s storage.Store) {
			a, b := UniqueID("apply"), UniqueID("apply")
			want := map[string]bool{}
			for i := range 150 {
				id := fmt.Sprintf("op%03d", i)
				want[id] = true
				_, err := s.CreateOperation(ctx, newOperation(a, id, int64(i)))
				require.NoError(t, err)
			}
			_, err := s.CreateOperation(ctx, newOperation(b, "foreign", 0))
			require.NoError(t, err)
			_, err = s.CreateOperation(ctx, newOperation(a+"x", "prefix", 0))
			require.NoError(t, err)
			got, err := s.ListOperations(ctx, a)
			require.NoError(t, err)
			require.Len(t, got, 150)
			for _, op := range got {
				require.Equal(t, a, op.ApplyID)
				require.True(t, want[op.ID], op.ID)
				delete(want, op.ID)
			}
			none, err := s.ListOperations(ctx, UniqueID("apply"))
			require.NoError(t, err)
			require.Empty(t, none)
		},
	})
}
