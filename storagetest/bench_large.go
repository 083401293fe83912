package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// largeSizes are the queue sizes RunLargeBenchmarks measures.
var largeSizes = []int{10_000, 100_000}

// LargePage is the page RunLargeBenchmarks' ListPage reads.
const LargePage = 100

// Loader writes rows straight into a store for a benchmark: batches and
// their member rows, as they would be after the batches were created.
// A backend's tests may pass a bulk loader of their own; nil writes them
// with the store's CreateBatch and AddMember, many at a time.
type Loader func(ctx context.Context, batches []storage.Batch, members []storage.Member) error

// RunLargeBenchmarks measures one queue of 10,000 and of 100,000 live
// batches (spread over three states, one index row each) on store:
//
//   - n=N/List: [batchstate.Orchestrator.List] of the three states;
//   - n=N/ListPage: the first page of [LargePage] batches
//     ([batchstate.Orchestrator.ListPage]), whose bytes allocated per op
//     do not grow with N on a store that reads by page;
//   - n=N/Reconcile: [batchstate.Orchestrator.Reconcile] of the
//     quiet queue (nothing to remove).
//
// Each reports time and bytes allocated per op (b.ReportAllocs). load
// fills the queue (nil: through the store's own calls).
func RunLargeBenchmarks(b *testing.B, store storage.Store, load Loader) {
	ctx := context.Background()
	if load == nil {
		load = storeLoader(store)
	}
	for _, n := range largeSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			queue := UniqueID(fmt.Sprintf("large%d", n))
			batches, members := largeQueue(queue, n)
			if err := load(ctx, batches, members); err != nil {
				b.Fatal(err)
			}
			o, err := batchstate.New(store, store, batchstate.Machine{States: append(listStates[:3:3], "done"), Terminal: []string{"done"}})
			if err != nil {
				b.Fatal(err)
			}
			b.Run("List", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if got, err := o.List(ctx, queue, listStates...); err != nil || len(got) != n {
						b.Fatalf("listed %d of %d: %v", len(got), n, err)
					}
				}
			})
			b.Run("ListPage", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if p, err := o.ListPage(ctx, queue, "", LargePage, listStates...); err != nil || len(p.Batches) != LargePage {
						b.Fatalf("a page of %d of %d: %v", len(p.Batches), LargePage, err)
					}
				}
			})
			b.Run("Reconcile", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if rep, err := o.Reconcile(ctx, queue); err != nil || rep.Scanned != n {
						b.Fatalf("reconcile scanned %d of %d: %v", rep.Scanned, n, err)
					}
				}
			})
		})
	}
}

// largeQueue returns n live batches of queue over listStates, with the
// member row of each.
func largeQueue(queue string, n int) ([]storage.Batch, []storage.Member) {
	at := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	batches := make([]storage.Batch, n)
	members := make([]storage.Member, n)
	for i := range n {
		id, state := fmt.Sprintf("b%06d", i), listStates[i%len(listStates)]
		t := at.Add(time.Duration(i) * time.Microsecond)
		batches[i] = storage.Batch{Queue: queue, ID: id, State: state, Version: 1, Payload: []byte(id), CreatedAt: t, UpdatedAt: t}
		members[i] = storage.Member{Queue: queue, State: state, BatchID: id, Version: 1, AddedAt: t}
	}
	return batches, members
}

// storeLoader writes rows with store's CreateBatch and AddMember, 32 at a
// time.
func storeLoader(store storage.Store) Loader {
	return func(ctx context.Context, batches []storage.Batch, members []storage.Member) error {
		return seedEach(ctx, len(batches), 32, func(ctx context.Context, i int) error {
			if err := store.AddMember(ctx, members[i]); err != nil {
				return err
			}
			_, err := store.CreateBatch(ctx, batches[i])
			return err
		})
	}
}
