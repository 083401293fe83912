package custombackend_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/statefold/statefold/examples/custombackend"
	"github.com/statefold/statefold/storage"
)

// A custom backend behaves like every other: create, compare-and-swap, and
// the error vocabulary.
func Example() {
	ctx := context.Background()
	s := custombackend.New()
	b, _ := s.CreateBatch(ctx, storage.Batch{Queue: "main", ID: "b1", State: "queued"})
	b.State = "merging"
	b2, _ := s.UpdateBatch(ctx, b, b.Version, "queued")
	_, err := s.UpdateBatch(ctx, b, b.Version, "queued") // stale: b2 is newer
	fmt.Println(b2.State, b2.Version, errors.Is(err, storage.ErrConflict))
	// Output: merging 2 true
}
