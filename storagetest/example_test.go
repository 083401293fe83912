package storagetest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// A FaultStore makes the second write fail after it landed — the
// ambiguous failure a network drop causes — and counts the calls.
func ExampleFaultStore() {
	ctx := context.Background()
	fs := storagetest.NewFaultStore(memory.New())
	_, _ = fs.Inject(storagetest.Fault{Mode: storagetest.FailAfter, Call: 2, WritesOnly: true})

	b, _ := fs.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
	b.State = "running"
	_, err := fs.UpdateBatch(ctx, b, b.Version, "queued")
	fmt.Println(errors.Is(err, storagetest.ErrInjected))

	stored, _ := fs.Inner().GetBatch(ctx, "q", "b")
	fmt.Println(stored.State, stored.Version, fs.Writes())
	// Output:
	// true
	// running 2 2
}

// The areas Run covers.
func ExampleAreas() {
	for _, a := range storagetest.Areas() {
		fmt.Println(a.Name)
	}
	// Output:
	// CRUD
	// CAS
	// Delete
	// Membership
	// Snapshot
	// Move
	// Keys
	// Validation
	// RoundTrip
	// Orchestration
	// Interleavings
	// ModelCheck
}
