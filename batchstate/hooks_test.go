package batchstate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/internal/hook/hooktest"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

var hookMachine = batchstate.Machine{States: []string{"queued", "running", "done"}, Terminal: []string{"done"},
	Transitions: map[string][]string{"queued": {"running", "done"}, "running": {"done"}}}

// reconcileFirst runs a Reconcile before the first GetBatches of a List.
type reconcileFirst struct {
	storage.Store
	o    **batchstate.Orchestrator
	done bool
}

func (s *reconcileFirst) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	if !s.done && len(ids) > 0 {
		s.done = true
		if _, err := (*s.o).Reconcile(context.Background(), queue); err != nil {
			return nil, err
		}
	}
	return s.Store.GetBatches(ctx, queue, ids)
}

func TestHooksListReread(t *testing.T) {
	ctx := context.Background()
	var h hooktest.Heard
	var o *batchstate.Orchestrator
	store := &reconcileFirst{Store: memory.New(), o: &o}
	o, err := batchstate.New(store, store, hookMachine, batchstate.WithHooks(h.Hooks()), batchstate.WithListRetry(3, 0))
	require.NoError(t, err)
	b, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "b1", State: "queued"})
	require.NoError(t, err)
	_, err = o.Transition(ctx, b, "running") // leaves the queued row for Reconcile
	require.NoError(t, err)
	got, err := o.List(ctx, "q", "running")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, []string{
		`Create q queued "" 0`,
		`Transition q running "" 0`,
		`  removed stale 1 attempt 0 in Reconcile`,
		`Reconcile q  "" 2`,
		`  reread changed 1 attempt 0 in List`,
		`List q  "" 1`,
	}, h.Lines)
}

func TestHooksReconcileFences(t *testing.T) {
	ctx := context.Background()
	var h hooktest.Heard
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := memory.New()
	o, err := batchstate.New(store, store, hookMachine, batchstate.WithHooks(h.Hooks()),
		batchstate.WithClock(func() time.Time { return now }), batchstate.WithDanglingGrace(time.Minute))
	require.NoError(t, err)
	_, err = o.Create(ctx, storage.Batch{Queue: "q", ID: "b1", State: "queued"})
	require.NoError(t, err)
	// A transition's row and a create's row whose batch writes never came.
	require.NoError(t, store.AddMember(ctx, storage.Member{Queue: "q", State: "running", BatchID: "b1", Version: 2, AddedAt: now}))
	require.NoError(t, store.AddMember(ctx, storage.Member{Queue: "q", State: "queued", BatchID: "b2", Version: 1, AddedAt: now}))
	now = now.Add(time.Hour)
	rep, err := o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, 2, rep.Fenced)
	require.Equal(t, []string{
		`Create q queued "" 0`,
		`  fenced create 1 attempt 0 in Reconcile`,
		`  fenced transition 1 attempt 0 in Reconcile`,
		`  removed stale 1 attempt 0 in Reconcile`,
		`  removed dangling 1 attempt 0 in Reconcile`,
		`Reconcile q  "" 3`,
	}, h.Lines)
	_, err = o.Transition(ctx, storage.Batch{Queue: "q", ID: "b1", State: "queued", Version: 1}, "done")
	require.ErrorIs(t, err, storage.ErrConflict, "fenced off")
	require.Equal(t, `Transition q  "conflict" 0`, h.Lines[len(h.Lines)-1])
	require.Equal(t, `  conflict UpdateBatch 1 attempt 0 in Transition`, h.Lines[len(h.Lines)-2])
}
