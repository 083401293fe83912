package explore

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/faultstore"
)

// badInputCase is one call of a public entry point with bad input.
type badInputCase struct {
	name string
	// canceled runs the call with a canceled context and expects
	// context.Canceled instead of storage.ErrInvalid.
	canceled bool
	call     func(ctx context.Context, o *batchstate.Orchestrator, p *applystate.Projector, s storage.Store) error
}

func badInputCases() []badInputCase {
	long := strings.Repeat("k", storage.MaxKeyBytes+1)
	const badUTF8 = "bad\xff"
	b := func(queue, id, state string) storage.Batch {
		return storage.Batch{Queue: queue, ID: id, State: state, Version: 1}
	}
	type (
		orch = batchstate.Orchestrator
		proj = applystate.Projector
	)
	batchCall := func(f func(ctx context.Context, o *orch) error) func(context.Context, *orch, *proj, storage.Store) error {
		return func(ctx context.Context, o *orch, _ *proj, _ storage.Store) error { return f(ctx, o) }
	}
	applyCall := func(f func(ctx context.Context, p *proj) error) func(context.Context, *orch, *proj, storage.Store) error {
		return func(ctx context.Context, _ *orch, p *proj, _ storage.Store) error { return f(ctx, p) }
	}
	create := func(bt storage.Batch) func(context.Context, *orch, *proj, storage.Store) error {
		return batchCall(func(ctx context.Context, o *orch) error { _, err := o.Create(ctx, bt); return err })
	}
	transition := func(bt storage.Batch, to string) func(context.Context, *orch, *proj, storage.Store) error {
		return batchCall(func(ctx context.Context, o *orch) error { _, err := o.Transition(ctx, bt, to); return err })
	}
	list := func(queue string, states ...string) func(context.Context, *orch, *proj, storage.Store) error {
		return batchCall(func(ctx context.Context, o *orch) error { _, err := o.List(ctx, queue, states...); return err })
	}
	drive := func(applyID string, tasks ...applystate.Task) func(context.Context, *orch, *proj, storage.Store) error {
		return applyCall(func(ctx context.Context, p *proj) error { _, err := p.Drive(ctx, applyID, tasks); return err })
	}
	newOrch := func(bs storage.BatchStore, ms storage.MembershipStore, m batchstate.Machine) error {
		_, err := batchstate.New(bs, ms, m)
		return err
	}
	return []badInputCase{
		{name: "New/nil batch store", call: func(_ context.Context, _ *orch, _ *proj, s storage.Store) error {
			return newOrch(nil, s, cyclicMachine)
		}},
		{name: "New/nil member store", call: func(_ context.Context, _ *orch, _ *proj, s storage.Store) error {
			return newOrch(s, nil, cyclicMachine)
		}},
		{name: "New/no states", call: func(_ context.Context, _ *orch, _ *proj, s storage.Store) error {
			return newOrch(s, s, batchstate.Machine{})
		}},
		{name: "New/terminal not a state", call: func(_ context.Context, _ *orch, _ *proj, s storage.Store) error {
			return newOrch(s, s, batchstate.Machine{States: []string{"a"}, Terminal: []string{"z"}})
		}},
		{name: "New/transition to unknown", call: func(_ context.Context, _ *orch, _ *proj, s storage.Store) error {
			return newOrch(s, s, batchstate.Machine{States: []string{"a"}, Transitions: map[string][]string{"a": {"z"}}})
		}},
		{name: "Create/empty queue", call: create(b("", "id", "a"))},
		{name: "Create/oversized id", call: create(b("q", long, "a"))},
		{name: "Create/invalid UTF-8 id", call: create(b("q", badUTF8, "a"))},
		{name: "Create/unknown state", call: create(b("q", "id", "nope"))},
		{name: "Create/oversized payload", call: create(storage.Batch{Queue: "q", ID: "id", State: "a", Payload: make([]byte, storage.MaxPayloadBytes+1)})},
		{name: "Transition/unknown target", call: transition(b("q", "id", "a"), "nope")},
		{name: "Transition/out of terminal", call: transition(b("q", "id", "gone"), "a")},
		{name: "Transition/not allowed", call: transition(b("q", "id", "a"), "c")},
		{name: "Transition/empty id", call: transition(b("q", "", "a"), "b")},
		{name: "Transition/oversized payload", call: transition(storage.Batch{Queue: "q", ID: "id", State: "a", Version: 1, Payload: make([]byte, storage.MaxPayloadBytes+1)}, "b")},
		{name: "List/terminal state", call: list("q", "gone")},
		{name: "List/unknown state", call: list("q", "a", "nope")},
		{name: "List/invalid UTF-8 queue", call: list(badUTF8, "a")},
		{name: "Reconcile/empty queue", call: batchCall(func(ctx context.Context, o *orch) error { _, err := o.Reconcile(ctx, ""); return err })},
		{name: "Drive/empty apply", call: drive("", applystate.Task{OperationID: "op", State: applystate.Running})},
		{name: "Drive/oversized operation", call: drive("apply", applystate.Task{OperationID: long, State: applystate.Running})},
		{name: "Drive/invalid UTF-8 operation", call: drive("apply", applystate.Task{OperationID: badUTF8, State: applystate.Running})},
		{name: "Stop/oversized apply", call: applyCall(func(ctx context.Context, p *proj) error { _, err := p.Stop(ctx, long); return err })},
		{name: "Reproject/invalid UTF-8 apply", call: applyCall(func(ctx context.Context, p *proj) error { _, err := p.Reproject(ctx, badUTF8); return err })},
		{name: "ReleasePause/empty apply", call: applyCall(func(ctx context.Context, p *proj) error { _, err := p.ReleasePause(ctx, ""); return err })},
		{name: "Parse/unknown state", call: func(context.Context, *orch, *proj, storage.Store) error {
			_, err := applystate.Parse("nope")
			return err
		}},
		{name: "Create/canceled", canceled: true, call: create(b("q", "id", "a"))},
		{name: "Transition/canceled", canceled: true, call: transition(b("q", "id", "a"), "b")},
		{name: "List/canceled", canceled: true, call: list("q", "a")},
		{name: "Reconcile/canceled", canceled: true, call: batchCall(func(ctx context.Context, o *orch) error { _, err := o.Reconcile(ctx, "q"); return err })},
		{name: "Drive/canceled", canceled: true, call: drive("apply", applystate.Task{OperationID: "op", State: applystate.Running})},
		{name: "Stop/canceled", canceled: true, call: applyCall(func(ctx context.Context, p *proj) error { _, err := p.Stop(ctx, "apply"); return err })},
	}
}

// runBadInput calls every public entry point of batchstate and applystate
// with bad input (and with a canceled context) through a counting store,
// and requires the right error and zero writes.
func runBadInput(t *testing.T, newStore func(t *testing.T) storage.Store) {
	for _, c := range badInputCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fs := faultstore.New(newStore(t))
			o, err := batchstate.New(fs, fs, cyclicMachine, batchstate.WithLogger(testLogger(t)))
			require.NoError(t, err)
			p, err := applystate.NewProjector(fs, fs, applystate.WithLogger(testLogger(t)))
			require.NoError(t, err)
			ctx := context.Background()
			if c.canceled {
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				ctx = cctx
			}
			err = c.call(ctx, o, p, fs)
			if c.canceled {
				require.ErrorIs(t, err, context.Canceled)
			} else {
				require.ErrorIs(t, err, storage.ErrInvalid)
			}
			require.Zero(t, fs.Writes(), "bad input must write nothing; calls: %v", fs.Counts())
		})
	}
}
