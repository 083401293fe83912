package batchstate_test

import (
	"context"
	"errors"
	"fmt"

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
