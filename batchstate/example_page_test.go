package batchstate_test

import (
	"context"
	"fmt"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// A worker that needs a few queued batches at a time reads the queue by
// page: each page reads at most its limit of index rows per state, however
// long the queue, and Next resumes after it.
func ExampleOrchestrator_ListPage() {
	ctx := context.Background()
	store := memory.New()
	queue, err := batchstate.New(store, store, batchstate.Machine{
		States:      []string{"queued", "running", "done"},
		Terminal:    []string{"done"},
		Transitions: map[string][]string{"queued": {"running"}, "running": {"done"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range []string{"b1", "b2", "b3", "b4", "b5"} {
		queue.Create(ctx, storage.Batch{Queue: "main", ID: id, State: "queued"})
	}
	for after := ""; ; {
		page, err := queue.ListPage(ctx, "main", after, 2, "queued", "running")
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, b := range page.Batches {
			fmt.Print(b.ID, " ")
		}
		fmt.Printf("| next %q\n", page.Next)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	// Output:
	// b1 b2 | next "b2"
	// b3 b4 | next "b4"
	// b5 | next ""
}
