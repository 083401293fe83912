package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/statefold/statefold/internal/explore"
)

// BenchmarkListFloor is the one-query floor the List benchmark of
// RunBenchmarks is compared with: the same queue (explore.SeedListQueue)
// read by one join of the index with the batches, filtered by state, as a
// database with transactions and secondary indexes would answer "which
// batches are in these states".
func BenchmarkListFloor(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	states := []string{"queued", "running", "merging"}
	for _, n := range []int{100, 1000} {
		queue, err := explore.SeedListQueue(ctx, f.store, n, states)
		if err != nil {
			b.Fatal(err)
		}
		query := "SELECT b.queue, b.id, b.state, b.version, b.payload, b.created_at, b.updated_at FROM " +
			f.table("members") + " m JOIN " + f.table("batches") + " b ON b.queue = m.queue AND b.id = m.batch_id AND b.state = m.state" +
			" WHERE m.queue = $1 AND m.state = ANY($2)"
		stateArgs := [][]byte{[]byte("queued"), []byte("running"), []byte("merging")}
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for b.Loop() {
				rows, err := f.pool.Query(ctx, query, []byte(queue), stateArgs)
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for rows.Next() {
					if _, err := f.store.d.ScanBatch(rows); err != nil {
						b.Fatal(err)
					}
					got++
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				if got != n {
					b.Fatalf("floor read %d batches, want %d", got, n)
				}
			}
		})
	}
}
