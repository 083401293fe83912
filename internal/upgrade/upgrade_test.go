package upgrade

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
)

// TestUpgrade: v0.1.0 writes rollouts and queues mid-flight (every failure
// policy, a pause released the v0.1.0 way, a stop, a crash between an
// operation write and its apply write; batches in every state, crash
// leftovers of Transition and Create, a queue reconciled by v0.1.0) and
// exits; today's release migrates, takes over and drives everything to
// the end. Every row v0.1.0 wrote is still there, every live batch is
// listed exactly once before and after today's Reconcile, and every apply
// settles with exactly one Terminalized among all callers of both
// releases.
func TestUpgrade(t *testing.T) {
	onEachBackend(t, 60*time.Second, func(ctx context.Context, t *testing.T, tb tables) {
		if tb.srv.backend == "postgres" {
			// v0.1.0 had no PostgreSQL backend: its orchestrators write
			// through today's store (testdata/oldside/pgstore.go), on
			// tables today's Migrate creates.
			tb.ready(t)
		}
		old := seedOld(t, tb.srv, tb.prefix)
		st := tb.ready(t)

		lost := checkNothingLost(ctx, t, st, old)
		batches := takeOverQueues(ctx, t, st, old)
		takeOverApplies(ctx, t, st, old)
		if lost == 0 && !t.Failed() {
			t.Logf("upgrade v0.1.0 -> today on %s: %d applies, %d batches, 0 lost, every live batch listed once, every apply settled with one Terminalized",
				tb.srv.backend, len(old.Applies), batches)
		}
	})
}

// checkNothingLost reads every row v0.1.0 said it wrote; it returns how
// many are missing (each an error).
func checkNothingLost(ctx context.Context, t *testing.T, st storage.Store, old seeded) int {
	t.Helper()
	lost := 0
	miss := func(what string, err error) {
		if err != nil {
			lost++
			t.Errorf("lost row: %s: %v", what, err)
		}
	}
	for _, a := range old.Applies {
		_, err := st.GetApply(ctx, a.ID)
		miss("apply "+a.ID, err)
		for _, op := range a.Ops {
			_, err := st.GetOperation(ctx, a.ID, op)
			miss("operation "+a.ID+"/"+op, err)
		}
	}
	for _, q := range old.Queues {
		for _, id := range q.Batches {
			_, err := st.GetBatch(ctx, q.Queue, id)
			miss("batch "+q.Queue+"/"+id, err)
		}
	}
	return lost
}

// takeOverQueues lists every queue v0.1.0 left (every live batch once),
// reconciles it, moves every live batch to the end with today's
// Transition, and checks the index after each step; it returns the number
// of batches.
func takeOverQueues(ctx context.Context, t *testing.T, st storage.Store, old seeded) int {
	t.Helper()
	// A clock an hour ahead: every row v0.1.0 left is past the dangling
	// grace, so one Reconcile converges.
	clock := func() time.Time { return time.Now().Add(time.Hour) }
	machine := queueMachine(t)
	o, err := batchstate.New(st, st, machine, batchstate.WithLogger(quiet()), batchstate.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, q := range old.Queues {
		n += len(q.Batches)
		if len(listedOnce(ctx, t, st, o, machine, q.Queue, q.Batches, "after the upgrade")) == 0 {
			t.Errorf("queue %s: v0.1.0 left no live batch to take over", q.Queue)
		}
		if err := explore.CheckListed(ctx, st, o.List, machine, q.Queue, q.Batches); err != nil {
			t.Errorf("queue %s after the upgrade: %v", q.Queue, err)
		}
		if _, err := o.Reconcile(ctx, q.Queue); err != nil {
			t.Fatalf("today's Reconcile of %s: %v", q.Queue, err)
		}
		known := append(slices.Clone(q.Batches), q.Ghosts...)
		if err := explore.CheckIndexExact(ctx, st, machine, q.Queue, known); err != nil {
			t.Errorf("queue %s after today's Reconcile: %v", q.Queue, err)
		}
		// Reconcile fences the transitions v0.1.0 left half done: move
		// the batches as read after it.
		for _, b := range listedOnce(ctx, t, st, o, machine, q.Queue, q.Batches, "after today's Reconcile") {
			for _, to := range map[string][]string{"queued": {"testing", "merging", "merged"}, "testing": {"merging", "merged"}, "merging": {"merged"}}[b.State] {
				if b, err = o.Transition(ctx, b, to); err != nil {
					t.Errorf("today's Transition of %s to %s: %v", b.ID, to, err)
					break
				}
			}
		}
		listedOnce(ctx, t, st, o, machine, q.Queue, q.Batches, "once today's release merged every batch")
		if _, err := o.Reconcile(ctx, q.Queue); err != nil {
			t.Fatalf("today's Reconcile of %s: %v", q.Queue, err)
		}
		if err := explore.CheckIndexExact(ctx, st, machine, q.Queue, known); err != nil {
			t.Errorf("queue %s at the end: %v", q.Queue, err)
		}
	}
	return n
}

// listedOnce lists every non-terminal state of queue in one List and
// checks that every batch of ids stored in one of them is listed exactly
// once, and nothing else; it returns the live batches as listed.
func listedOnce(ctx context.Context, t *testing.T, st storage.Store, o *batchstate.Orchestrator, machine batchstate.Machine, queue string, ids []string, when string) []storage.Batch {
	t.Helper()
	got, err := o.List(ctx, queue, machine.NonTerminal()...)
	if err != nil {
		t.Fatalf("today's List of %s %s: %v", queue, when, err)
	}
	stored, err := st.GetBatches(ctx, queue, ids)
	if err != nil {
		t.Fatal(err)
	}
	times := make(map[string]int)
	for _, b := range got {
		times[b.ID]++
	}
	for _, b := range stored {
		want := 0
		if slices.Contains(machine.NonTerminal(), b.State) {
			want = 1
		}
		if times[b.ID] != want {
			t.Errorf("queue %s %s: batch %s stored in %s listed %d times, want %d", queue, when, b.ID, b.State, times[b.ID], want)
		}
		delete(times, b.ID)
	}
	for id, n := range times {
		t.Errorf("queue %s %s: %s listed %d times but not a batch v0.1.0 created", queue, when, id, n)
	}
	return got
}

// takeOverApplies drives every rollout v0.1.0 left to a terminal state
// with today's release and checks each: terminal, the projection of its
// rows, nothing active under a terminal apply, exactly one Terminalized
// among v0.1.0's callers and today's.
func takeOverApplies(ctx context.Context, t *testing.T, st storage.Store, old seeded) {
	t.Helper()
	var count terminalized
	errs := make([]error, len(old.Applies))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, a := range old.Applies {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = settle(ctx, st, a.ID, a.Ops, &count)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("today's release did not drive every rollout to its end: %v", err)
	}
	for _, a := range old.Applies {
		stored, err := st.GetApply(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !applystate.Normalize(stored.State).Terminal() {
			t.Errorf("apply %s (%s, left %s by v0.1.0) is %s at the end, not terminal", a.ID, a.Kind, a.State, stored.State)
		}
		n := count.of(a.ID)
		if a.Terminalized {
			n++
		}
		if n != 1 {
			t.Errorf("apply %s (%s): %d callers saw Terminalized (v0.1.0: %v), want exactly 1", a.ID, a.Kind, n, a.Terminalized)
		}
		for _, c := range []func(context.Context, storage.Store, string) error{explore.CheckApplyProjected, explore.CheckApplyNotEarly} {
			if err := c(ctx, st, a.ID); err != nil {
				t.Errorf("apply %s (%s): %v", a.ID, a.Kind, err)
			}
		}
	}
	if t.Failed() {
		for _, a := range old.Applies {
			t.Log(describe(ctx, st, a.ID))
		}
	}
}

// describe is the apply and its rows, for a failure's log.
func describe(ctx context.Context, st storage.Store, applyID string) string {
	a, err := st.GetApply(ctx, applyID)
	if err != nil {
		return fmt.Sprintf("%s: %v", applyID, err)
	}
	s := fmt.Sprintf("%s: %s stop=%v released=%v;", applyID, a.State, a.StopRequested, a.PauseReleased)
	ops, _ := st.ListOperations(ctx, applyID)
	for _, op := range ops {
		s += fmt.Sprintf(" %s=%s/%s v%d started=%v released=%v acknowledged=%v", op.ID, op.State, op.OnFailure, op.Version, !op.StartedAt.IsZero(), !op.ReleasedAt.IsZero(), applystate.Acknowledged(op))
	}
	return s
}
