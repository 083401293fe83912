package mysql

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// BenchmarkLarge measures List, a page and Reconcile of queues of 10,000
// and 100,000 batches (make bench prints them as large/mysql/…), the
// queues written by multi-row INSERTs.
func BenchmarkLarge(b *testing.B) {
	f := newFixture(b)
	storagetest.RunLargeBenchmarks(b, f.store, f.bulkLoad)
}

// bulkLoad writes batches and members with INSERTs of 1,000 rows: a
// benchmark's seed, not a store call.
func (f fixture) bulkLoad(ctx context.Context, batches []storage.Batch, members []storage.Member) error {
	wire := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000") }
	for lo := 0; lo < len(batches); lo += 1000 {
		hi := min(lo+1000, len(batches))
		var bargs, margs []any
		for i := lo; i < hi; i++ {
			b, m := batches[i], members[i]
			bargs = append(bargs, b.Queue, b.ID, b.State, b.Version, b.Payload, wire(b.CreatedAt), wire(b.UpdatedAt))
			margs = append(margs, m.Queue, m.State, m.BatchID, m.Version, wire(m.AddedAt))
		}
		n := hi - lo
		if _, err := f.db.ExecContext(ctx, "INSERT INTO "+f.table("batches")+" (queue, id, state, version, payload, created_at, updated_at) VALUES "+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", n), ", "), bargs...); err != nil {
			return err
		}
		if _, err := f.db.ExecContext(ctx, "INSERT INTO "+f.table("members")+" (queue, state, batch_id, version, added_at) VALUES "+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", n), ", "), margs...); err != nil {
			return err
		}
	}
	return nil
}
