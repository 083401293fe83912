package storagetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/explore"
)

// lookupSize is the queue size of the Lookup benchmark.
const lookupSize = 1000

// lookupIndex files a benchmark batch under its payload: one request each.
func lookupIndex(b storage.Batch) []string { return []string{string(b.Payload)} }

// lookupOrchestrator is an orchestrator over fs whose batches are filed
// under their request.
func lookupOrchestrator(fs storage.Store) (*batchstate.Orchestrator, error) {
	m := batchstate.Machine{States: append(slices.Clone(listStates), "done"), Terminal: []string{"done"}}
	return batchstate.New(fs, fs, m, batchstate.WithIndex("request", lookupIndex))
}

// seedLookupQueue creates n batches spread over listStates in a new
// queue, batch i holding request "req-i", and returns the queue.
func seedLookupQueue(ctx context.Context, o *batchstate.Orchestrator, n int) (string, error) {
	queue := explore.UniqueID(fmt.Sprintf("lookup%d", n))
	return queue, seedEach(ctx, n, 8, func(ctx context.Context, i int) error {
		_, err := o.Create(ctx, storage.Batch{Queue: queue, ID: fmt.Sprintf("b%05d", i),
			State: listStates[i%len(listStates)], Payload: fmt.Appendf(nil, "req-%d", i)})
		return err
	})
}

// scanLookup is the baseline Lookup: the whole queue listed, and filtered
// by the key.
func scanLookup(ctx context.Context, o *batchstate.Orchestrator, queue, key string) ([]storage.Batch, error) {
	all, err := o.List(ctx, queue, listStates...)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(b storage.Batch) bool { return !slices.Contains(lookupIndex(b), key) }), nil
}

// benchLookup measures Lookup/ours (one request's batch in a queue of
// lookupSize) against Lookup/scan (the queue listed and filtered).
func benchLookup(b *testing.B, rec *benchRecord, store storage.Store) {
	ctx := context.Background()
	fs := NewFaultStore(store)
	o, err := lookupOrchestrator(fs)
	if err != nil {
		b.Fatal(err)
	}
	queue, err := seedLookupQueue(ctx, o, lookupSize)
	if err != nil {
		b.Fatal(err)
	}
	for name, find := range map[string]func(key string) ([]storage.Batch, error){
		"ours": func(key string) ([]storage.Batch, error) { return o.Lookup(ctx, queue, "request", key) },
		"scan": func(key string) ([]storage.Batch, error) { return scanLookup(ctx, o, queue, key) },
	} {
		b.Run(name, func(b *testing.B) {
			if _, err := find("req-0"); err != nil { // warm caches and connections, untimed
				b.Fatal(err)
			}
			fs.ResetCounts()
			i := 0
			for b.Loop() {
				key := fmt.Sprintf("req-%d", i*7919%lookupSize)
				got, err := find(key)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != 1 || string(got[0].Payload) != key {
					b.Fatalf("%s found %d batches, want the one with %q", name, len(got), key)
				}
				i++
			}
			rec.report(b, fs)
		})
	}
}
