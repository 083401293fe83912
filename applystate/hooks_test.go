package applystate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/hook/hooktest"
	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// racedOnce makes the first apply write lose to another write of the
// apply, landed just before it.
type racedOnce struct {
	storage.Store
	raced bool
}

func (s *racedOnce) UpdateApply(ctx context.Context, a storage.Apply, expected int64) (storage.Apply, error) {
	if !s.raced {
		s.raced = true
		cur, err := s.Store.GetApply(ctx, a.ID)
		if err != nil {
			return storage.Apply{}, err
		}
		cur.UpdatedAt = cur.UpdatedAt.Add(time.Microsecond)
		if _, err := s.Store.UpdateApply(ctx, cur, cur.Version); err != nil {
			return storage.Apply{}, err
		}
	}
	return s.Store.UpdateApply(ctx, a, expected)
}

func TestHooksConflictRetryTakeover(t *testing.T) {
	ctx := context.Background()
	var h hooktest.Heard
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := &racedOnce{Store: memory.New()}
	p, err := applystate.NewProjector(store, store, applystate.WithHooks(h.Hooks()),
		applystate.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	store.raced = true // not CreatePlan's writes
	_, _, err = p.CreatePlan(ctx, applystate.Plan{Apply: storage.Apply{ID: "r1"}, Operations: []storage.Operation{{ID: "a"}}})
	require.NoError(t, err)
	l, err := p.Acquire(ctx, "r1", "a", "loop-1", time.Minute)
	require.NoError(t, err)
	now = now.Add(time.Hour) // loop-1's lease lapses
	l2, err := p.Acquire(ctx, "r1", "a", "loop-2", time.Minute)
	require.NoError(t, err)
	_, err = p.Renew(ctx, l, time.Minute)
	require.ErrorIs(t, err, applystate.ErrNotOwner)
	store.raced = false
	res, err := p.Drive(ctx, "r1", []applystate.Task{{OperationID: "a", State: applystate.Running}}, applystate.WithLease(l2))
	require.NoError(t, err)
	require.Equal(t, "running", res.Apply.State)
	require.Equal(t, []string{
		`CreatePlan r1/ pending "" 0`,
		`Acquire r1/a  "" 0`,
		`  takeover operation 1 attempt 0 in Acquire`,
		`Acquire r1/a  "" 0`,
		`Renew r1/a  "not_owner" 0`,
		`  conflict UpdateApply 1 attempt 0 in Drive`,
		`  retry  1 attempt 2 in Drive`,
		`Drive r1/a running "" 0`,
	}, h.Lines)
}

// BenchmarkDriveHooks measures a poll that changes nothing (two point
// reads on the memory store) without hooks and with hooks that count.
func BenchmarkDriveHooks(b *testing.B) {
	var calls int
	counting := observe.Hooks{OnEnd: func(context.Context, observe.Call, observe.Outcome) { calls++ }}
	for _, bc := range []struct {
		name string
		opts []applystate.Option
	}{{"none", nil}, {"counting", []applystate.Option{applystate.WithHooks(counting)}}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			store := memory.New()
			p, err := applystate.NewProjector(store, store, bc.opts...)
			require.NoError(b, err)
			_, _, err = p.CreatePlan(ctx, applystate.Plan{Apply: storage.Apply{ID: "r1"}, Operations: []storage.Operation{{ID: "a"}, {ID: "b"}}})
			require.NoError(b, err)
			tasks := []applystate.Task{{OperationID: "a", State: applystate.Running}}
			_, err = p.Drive(ctx, "r1", tasks)
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Drive(ctx, "r1", tasks); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestHooksPrune(t *testing.T) {
	ctx := context.Background()
	var h hooktest.Heard
	store := memory.New()
	p, err := applystate.NewProjector(store, store, applystate.WithHooks(h.Hooks()))
	require.NoError(t, err)
	_, _, err = p.CreatePlan(ctx, applystate.Plan{Apply: storage.Apply{ID: "r1"}, Operations: []storage.Operation{{ID: "a"}}})
	require.NoError(t, err)
	_, err = p.Drive(ctx, "r1", []applystate.Task{{OperationID: "a", State: applystate.Completed}})
	require.NoError(t, err)
	rep, err := p.Prune(ctx, []string{"r1"}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pruned)
	require.Equal(t, []string{`  pruned  1 attempt 0 in Prune`, `Prune /  "" 1`}, h.Lines[len(h.Lines)-2:])
}
