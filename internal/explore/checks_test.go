package explore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// The checks must fail when the orchestration is broken. Each subtest
// builds the state a deliberately broken orchestrator leaves behind and
// requires the matching check to report it.
func TestChecksCatchBrokenOrchestrators(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("BatchWrittenBeforeItsRow", func(t *testing.T) {
		t.Parallel()
		e := newOrchEnv(t, memory.New())
		b := e.create(ctx, t, "b", "queued")
		list := e.clean.List
		require.NoError(t, CheckListed(ctx, e.store, list, CrashMachine, e.queue, e.ids))
		// Broken Transition: the batch CAS first, then a crash before AddMember.
		b.State = "running"
		_, err := e.store.UpdateBatch(ctx, b, b.Version, "queued")
		require.NoError(t, err)
		err = CheckListed(ctx, e.store, list, CrashMachine, e.queue, e.ids)
		require.ErrorContains(t, err, "invariant I:")
		require.Error(t, CheckIndexExact(ctx, e.store, CrashMachine, e.queue, e.ids))
	})

	t.Run("ListDropsABatch", func(t *testing.T) {
		t.Parallel()
		e := newOrchEnv(t, memory.New())
		e.create(ctx, t, "x", "queued")
		e.create(ctx, t, "y", "queued")
		drop := func(ctx context.Context, queue string, states ...string) ([]storage.Batch, error) {
			got, err := e.clean.List(ctx, queue, states...)
			if len(got) > 0 {
				got = got[:len(got)-1]
			}
			return got, err
		}
		require.ErrorContains(t, CheckListed(ctx, e.store, drop, CrashMachine, e.queue, e.ids), "invariant I:")
	})

	t.Run("ListTrustsTheIndex", func(t *testing.T) {
		t.Parallel()
		e := newOrchEnv(t, memory.New())
		b := e.create(ctx, t, "x", "queued")
		_, err := e.clean.Transition(ctx, b, "running")
		require.NoError(t, err)
		// A stray row from a lost CAS; a List that does not filter by the
		// stored state misreports the batch under it.
		require.NoError(t, e.store.AddMember(ctx, storage.Member{Queue: e.queue, State: "merging", BatchID: "x", Version: 3}))
		naive := func(ctx context.Context, queue string, states ...string) ([]storage.Batch, error) {
			var out []storage.Batch
			for _, s := range states {
				rows, err := e.store.ListMembers(ctx, queue, s)
				if err != nil {
					return nil, err
				}
				for _, r := range rows {
					b, err := e.store.GetBatch(ctx, queue, r.BatchID)
					if err != nil {
						return nil, err
					}
					out = append(out, b)
				}
			}
			return out, nil
		}
		require.ErrorContains(t, CheckListed(ctx, e.store, naive, CrashMachine, e.queue, e.ids), "invariant II:")
		require.NoError(t, CheckListed(ctx, e.store, e.clean.List, CrashMachine, e.queue, e.ids))
		require.ErrorContains(t, CheckIndexExact(ctx, e.store, CrashMachine, e.queue, e.ids), "index:")
	})

	t.Run("UnknownRow", func(t *testing.T) {
		t.Parallel()
		e := newOrchEnv(t, memory.New())
		e.create(ctx, t, "x", "queued")
		require.NoError(t, CheckIndexExact(ctx, e.store, CrashMachine, e.queue, e.ids))
		require.NoError(t, e.store.AddMember(ctx, storage.Member{Queue: e.queue, State: "queued", BatchID: "ghost", Version: 1}))
		require.ErrorContains(t, CheckIndexExact(ctx, e.store, CrashMachine, e.queue, e.ids), "unknown batch")
	})

	t.Run("ProjectorClobbersSiblings", func(t *testing.T) {
		t.Parallel()
		e := newOrchEnv(t, memory.New())
		e.seedApply(ctx, t, applystate.Running, applystate.Running, applystate.Pending)
		require.NoError(t, CheckApplyNotEarly(ctx, e.store, e.apply))
		require.NoError(t, CheckApplyProjected(ctx, e.store, e.apply))
		// Broken Drive: the apply takes the calling deployment's state.
		a, err := e.store.GetApply(ctx, e.apply)
		require.NoError(t, err)
		a.State = string(applystate.Completed)
		_, err = e.store.UpdateApply(ctx, a, a.Version)
		require.NoError(t, err)
		require.ErrorContains(t, CheckApplyNotEarly(ctx, e.store, e.apply), "while operation")
		require.ErrorContains(t, CheckApplyProjected(ctx, e.store, e.apply), "want Rollout")
	})
}
