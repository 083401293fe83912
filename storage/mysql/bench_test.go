package mysql

import (
	"context"
	"fmt"
	"testing"

	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
)

// BenchmarkListFloor answers List's question with the cheapest thing SQL
// can do — one query joining members and batches on their primary keys —
// on the same data as BenchmarkStore/List, so that List can be compared
// to it as a ratio.
func BenchmarkListFloor(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	states := []string{"queued", "running", "merging"}
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			queue, err := explore.SeedListQueue(ctx, f.store, n, states)
			if err != nil {
				b.Fatal(err)
			}
			query := "SELECT b.queue, b.id, b.state, b.version, b.payload, " + timeCol("b.created_at") + ", " + timeCol("b.updated_at") +
				" FROM " + f.table("members") + " m JOIN " + f.table("batches") + " b ON b.queue = m.queue AND b.id = m.batch_id" +
				" WHERE m.queue = ? AND m.state IN (?, ?, ?) AND b.state = m.state"
			for b.Loop() {
				rows, err := f.db.QueryContext(ctx, query, queue, states[0], states[1], states[2])
				if err != nil {
					b.Fatal(err)
				}
				var got []storage.Batch
				for rows.Next() {
					bt, err := f.store.d.ScanBatch(rows)
					if err != nil {
						b.Fatal(err)
					}
					got = append(got, bt)
				}
				if err := rows.Close(); err != nil {
					b.Fatal(err)
				}
				if len(got) != n {
					b.Fatalf("floor listed %d, want %d", len(got), n)
				}
			}
			b.ReportMetric(1, "calls/op")
		})
	}
}
