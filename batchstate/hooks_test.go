package batchstate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// heard records the calls and events hooks hear, one line each.
type heard struct{ lines []string }

func (h *heard) hooks() observe.Hooks {
	return observe.Hooks{
		OnEnd: func(_ context.Context, c observe.Call, o observe.Outcome) {
			h.lines = append(h.lines, fmt.Sprintf("%s %s %s %q %d", c.Method, c.Queue, o.State, o.ErrorType, o.Count))
		},
		OnEvent: func(_ context.Context, e observe.Event) {
			h.lines = append(h.lines, fmt.Sprintf("  %s %s %d in %s", e.Kind, e.Reason, e.Count, e.Call.Method))
		},
	}
}

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
	var h heard
	var o *batchstate.Orchestrator
	store := &reconcileFirst{Store: memory.New(), o: &o}
	o, err := batchstate.New(store, store, hookMachine, batchstate.WithHooks(h.hooks()), batchstate.WithListRetry(3, 0))
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
		`  removed stale 1 in Reconcile`,
		`Reconcile q  "" 2`,
		`  reread changed 1 in List`,
		`List q  "" 1`,
	}, h.lines)
}

func TestHooksReconcileFences(t *testing.T) {
	ctx := context.Background()
	var h heard
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := memory.New()
	o, err := batchstate.New(store, store, hookMachine, batchstate.WithHooks(h.hooks()),
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
		`  fenced create 1 in Reconcile`,
		`  fenced transition 1 in Reconcile`,
		`  removed stale 1 in Reconcile`,
		`  removed dangling 1 in Reconcile`,
		`Reconcile q  "" 3`,
	}, h.lines)
	_, err = o.Transition(ctx, storage.Batch{Queue: "q", ID: "b1", State: "queued", Version: 1}, "done")
	require.ErrorIs(t, err, storage.ErrConflict, "fenced off")
	require.Equal(t, `Transition q  "conflict" 0`, h.lines[len(h.lines)-1])
	require.Equal(t, `  conflict UpdateBatch 1 in Transition`, h.lines[len(h.lines)-2])
}
