package batchstate_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// A batch is filed under the pull requests it holds (here, its payload):
// Lookup finds the batch of a request, and follows it when the batch is
// rewritten with other requests.
func ExampleOrchestrator_Lookup() {
	ctx := context.Background()
	store := memory.New()
	byRequest := func(b storage.Batch) []string { return strings.Fields(string(b.Payload)) }
	queue, err := batchstate.New(store, store,
		batchstate.Machine{States: []string{"testing", "merged"}, Terminal: []string{"merged"}},
		batchstate.WithIndex("request", byRequest))
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := queue.Create(ctx, storage.Batch{Queue: "main", ID: "b1", State: "testing", Payload: []byte("pr-7 pr-9")})
	show := func(pr string) {
		found, _ := queue.Lookup(ctx, "main", "request", pr)
		for _, f := range found {
			fmt.Printf("%s: %s %s\n", pr, f.ID, f.State)
		}
		if len(found) == 0 {
			fmt.Printf("%s: none\n", pr)
		}
	}
	show("pr-9")
	b.Payload = []byte("pr-7") // pr-9 failed its tests: merge pr-7 alone
	queue.Transition(ctx, b, "merged")
	show("pr-9")
	show("pr-7")
	// Output:
	// pr-9: b1 testing
	// pr-9: none
	// pr-7: b1 merged
}

// With WithFinishedIndex, the batches that finished in an interval are
// listed by completion time, for audit.
func ExampleOrchestrator_ListFinished() {
	ctx := context.Background()
	store := memory.New()
	now := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	queue, err := batchstate.New(store, store,
		batchstate.Machine{States: []string{"testing", "merged", "failed"}, Terminal: []string{"merged", "failed"}},
		batchstate.WithFinishedIndex(), batchstate.WithClock(func() time.Time { return now }))
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, end := range []string{"merged", "failed", "merged"} {
		b, _ := queue.Create(ctx, storage.Batch{Queue: "main", ID: fmt.Sprint("b", i), State: "testing"})
		now = now.Add(20 * time.Hour)
		queue.Transition(ctx, b, end)
	}
	day := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	done, _ := queue.ListFinished(ctx, "main", day, day.Add(36*time.Hour))
	for _, b := range done {
		fmt.Println(b.UpdatedAt.Format(time.DateTime), b.ID, b.State)
	}
	// Output:
	// 2026-03-05 05:00:00 b0 merged
	// 2026-03-06 01:00:00 b1 failed
}
