package batchstate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// Every input error names the field and state and writes nothing.
func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := storage.Batch{Queue: "q", ID: "x", State: "created", Version: 1}
	term := storage.Batch{Queue: "q", ID: "x", State: "succeeded", Version: 1}
	for _, c := range []struct {
		name, want string
		call       func(o *batchstate.Orchestrator) error
	}{
		{"create unknown state", `"nope"`, func(o *batchstate.Orchestrator) error {
			_, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "nope"})
			return err
		}},
		{"create empty queue", "batch.Queue", func(o *batchstate.Orchestrator) error {
			_, err := o.Create(ctx, storage.Batch{ID: "x", State: "created"})
			return err
		}},
		{"create invalid UTF-8 id", "batch.ID", func(o *batchstate.Orchestrator) error {
			_, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "\xff", State: "created"})
			return err
		}},
		{"create oversized payload", "batch.Payload", func(o *batchstate.Orchestrator) error {
			_, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "created", Payload: make([]byte, storage.MaxPayloadBytes+1)})
			return err
		}},
		{"transition unknown target", `"nope"`, func(o *batchstate.Orchestrator) error {
			_, err := o.Transition(ctx, live, "nope")
			return err
		}},
		{"transition out of terminal", `"succeeded"`, func(o *batchstate.Orchestrator) error {
			_, err := o.Transition(ctx, term, "created")
			return err
		}},
		{"transition not allowed", `"created" → "merging"`, func(o *batchstate.Orchestrator) error {
			_, err := o.Transition(ctx, live, "merging")
			return err
		}},
		{"transition unknown source", `"limbo"`, func(o *batchstate.Orchestrator) error {
			_, err := o.Transition(ctx, storage.Batch{Queue: "q", ID: "x", State: "limbo", Version: 1}, "created")
			return err
		}},
		{"transition oversized payload", "batch.Payload", func(o *batchstate.Orchestrator) error {
			big := live
			big.Payload = make([]byte, storage.MaxPayloadBytes+1)
			_, err := o.Transition(ctx, big, "speculating")
			return err
		}},
		{"transition oversized id", "batch.ID", func(o *batchstate.Orchestrator) error {
			long := live
			long.ID = strings.Repeat("x", storage.MaxKeyBytes+1)
			_, err := o.Transition(ctx, long, "speculating")
			return err
		}},
		{"create invalid UTF-8 queue", "batch.Queue", func(o *batchstate.Orchestrator) error {
			_, err := o.Create(ctx, storage.Batch{Queue: "bad\xffqueue", ID: "x", State: "succeeded"})
			return err
		}},
		{"transition version 0", "batch.Version", func(o *batchstate.Orchestrator) error {
			_, err := o.Transition(ctx, storage.Batch{Queue: "q", ID: "x", State: "created"}, "speculating")
			return err
		}},
		{"list terminal", `"failed"`, func(o *batchstate.Orchestrator) error {
			_, err := o.List(ctx, "q", "created", "failed")
			return err
		}},
		{"list unknown", `"nope"`, func(o *batchstate.Orchestrator) error { _, err := o.List(ctx, "q", "nope"); return err }},
		{"list no state", "states", func(o *batchstate.Orchestrator) error { _, err := o.List(ctx, "q"); return err }},
		{"list oversized queue", "queue", func(o *batchstate.Orchestrator) error {
			_, err := o.List(ctx, strings.Repeat("q", 256), "created")
			return err
		}},
		{"reconcile empty queue", "queue", func(o *batchstate.Orchestrator) error { _, err := o.Reconcile(ctx, ""); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, mq)
			err := c.call(b.o)
			require.ErrorIs(t, err, storage.ErrInvalid)
			require.ErrorContains(t, err, c.want)
			require.Zero(t, b.spy.writes(), "nothing written")
			require.Zero(t, b.spy.total(), "no store call at all")
		})
	}
}

func TestCanceledContextCallsNothing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := setup(t, mq)
	_, err := b.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "created"})
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.o.Transition(ctx, storage.Batch{Queue: "q", ID: "x", State: "created", Version: 1}, "speculating")
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.o.List(ctx, "q", "created")
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.o.Reconcile(ctx, "q")
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, b.spy.total())
}
