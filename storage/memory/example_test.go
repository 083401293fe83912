package memory_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// The in-memory store: create, compare-and-swap, and a lost race.
func Example() {
	ctx := context.Background()
	s := memory.New()
	b, _ := s.CreateBatch(ctx, storage.Batch{Queue: "main", ID: "b1", State: "created"})
	next := b
	next.State = "merging"
	updated, _ := s.UpdateBatch(ctx, next, b.Version, b.State)
	_, err := s.UpdateBatch(ctx, next, b.Version, b.State) // b is stale now
	fmt.Println(updated.State, updated.Version, errors.Is(err, storage.ErrConflict))
	// Output: merging 2 true
}
