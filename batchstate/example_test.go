package batchstate_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// A merge queue: batches are created, speculated on, merged — or fail, or
// are cancelled. List answers "what is live in this queue" from the index,
// and a transition from a stale read loses its compare-and-swap.
func Example() {
	ctx := context.Background()
	store := memory.New()
	queue, err := batchstate.New(store, store, batchstate.Machine{
		States:   []string{"created", "speculating", "merging", "succeeded", "failed", "cancelling", "cancelled"},
		Terminal: []string{"succeeded", "failed", "cancelled"},
		Transitions: map[string][]string{
			"created":     {"speculating", "cancelling"},
			"speculating": {"merging", "failed", "cancelling"},
			"merging":     {"succeeded", "failed"},
			"cancelling":  {"cancelled"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	b1, _ := queue.Create(ctx, storage.Batch{Queue: "main", ID: "b1", State: "created"})
	queue.Create(ctx, storage.Batch{Queue: "main", ID: "b2", State: "created"})

	b1, _ = queue.Transition(ctx, b1, "speculating")
	stale := b1
	b1, _ = queue.Transition(ctx, b1, "merging")
	_, err = queue.Transition(ctx, stale, "cancelling") // someone else moved it first
	fmt.Println("lost race:", errors.Is(err, storage.ErrConflict))

	live, _ := queue.List(ctx, "main", "created", "speculating", "merging", "cancelling")
	for _, b := range live {
		fmt.Println(b.ID, b.State)
	}
	queue.Transition(ctx, b1, "succeeded")
	merging, _ := queue.List(ctx, "main", "merging")
	fmt.Println("merging now:", len(merging))
	_, err = queue.List(ctx, "main", "succeeded")
	fmt.Println("terminal states are not indexed:", errors.Is(err, storage.ErrInvalid))
	// Output:
	// lost race: true
	// b1 merging
	// b2 created
	// merging now: 0
	// terminal states are not indexed: true
}

// Reconcile cleans the index: the row a lost race left behind goes at once,
// the row of a create that never wrote its batch only after the grace.
func ExampleOrchestrator_Reconcile() {
	ctx := context.Background()
	store := memory.New()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o, err := batchstate.New(store, store,
		batchstate.Machine{States: []string{"queued", "running", "paused", "done"}, Terminal: []string{"done"}},
		batchstate.WithClock(func() time.Time { return now }),
		batchstate.WithDanglingGrace(time.Minute))
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := o.Create(ctx, storage.Batch{Queue: "q", ID: "b1", State: "queued"})
	stale := b
	if _, err := o.Transition(ctx, b, "running"); err != nil {
		fmt.Println(err)
		return
	}
	_, err = o.Transition(ctx, stale, "paused") // loses, leaving a (paused, b1) row
	fmt.Println("lost race:", errors.Is(err, storage.ErrConflict))
	// The move left its (queued, b1) row for Reconcile. A create that
	// crashed between its two writes left a row and no batch.
	_ = store.AddMember(ctx, storage.Member{Queue: "q", State: "queued", BatchID: "ghost", Version: 1, AddedAt: now})

	rep, _ := o.Reconcile(ctx, "q")
	fmt.Printf("%+v\n", rep)
	now = now.Add(2 * time.Minute)
	rep, _ = o.Reconcile(ctx, "q")
	fmt.Printf("%+v\n", rep)
	// Output:
	// lost race: true
	// {Scanned:4 RemovedTerminal:0 RemovedStale:2 RemovedDangling:0 Fenced:0 Kept:2 Unresolved:[ghost] Indexes:{Marks:0 Cleared:0 Scanned:0 Removed:0 Kept:0 Fenced:0}}
	// {Scanned:2 RemovedTerminal:0 RemovedStale:0 RemovedDangling:1 Fenced:1 Kept:1 Unresolved:[ghost] Indexes:{Marks:0 Cleared:0 Scanned:0 Removed:0 Kept:0 Fenced:0}}
}
