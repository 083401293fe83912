package batchstate

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/hook/hooktest"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// A Reconcile that takes over the lease a crashed Reconcile left held is
// heard as a takeover.
func TestHooksLeaseTakeover(t *testing.T) {
	ctx := context.Background()
	var h hooktest.Heard
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := memory.New()
	m := Machine{States: []string{"queued", "running", "done"}, Terminal: []string{"done"},
		Transitions: map[string][]string{"queued": {"running"}, "running": {"done"}}}
	o, err := New(store, store, m, WithHooks(h.Hooks()), WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	_, err = store.CreateBatch(ctx, heldLease("q", []byte("crashed"), now.Add(-time.Hour), storage.Batch{}, false))
	require.NoError(t, err)
	b, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "b1", State: "queued"})
	require.NoError(t, err)
	_, err = o.Transition(ctx, b, "running") // a stale row: Reconcile needs the lease
	require.NoError(t, err)
	_, err = o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Contains(t, h.Lines, `  takeover lease 1 attempt 0 in Reconcile`)
	require.Contains(t, h.Lines, `  removed stale 1 attempt 0 in Reconcile`)
}
