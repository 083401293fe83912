package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// BenchmarkLarge measures List, a page and Reconcile of queues of 10,000
// and 100,000 batches (make bench prints them as large/postgres/…), the
// queues written by COPY.
func BenchmarkLarge(b *testing.B) {
	f := newFixture(b)
	storagetest.RunLargeBenchmarks(b, f.store, f.bulkLoad)
}

// bulkLoad writes batches and members with one COPY each: a benchmark's
// seed, not a store call.
func (f fixture) bulkLoad(ctx context.Context, batches []storage.Batch, members []storage.Member) error {
	brows := make([][]any, len(batches))
	for i, b := range batches {
		brows[i] = []any{[]byte(b.Queue), []byte(b.ID), []byte(b.State), b.Version, b.Payload, b.CreatedAt, b.UpdatedAt}
	}
	mrows := make([][]any, len(members))
	for i, m := range members {
		mrows[i] = []any{[]byte(m.Queue), []byte(m.State), []byte(m.BatchID), m.Version, m.AddedAt}
	}
	if _, err := f.pool.CopyFrom(ctx, pgx.Identifier{f.prefix + "batches"},
		[]string{"queue", "id", "state", "version", "payload", "created_at", "updated_at"}, pgx.CopyFromRows(brows)); err != nil {
		return err
	}
	_, err := f.pool.CopyFrom(ctx, pgx.Identifier{f.prefix + "members"},
		[]string{"queue", "state", "batch_id", "version", "added_at"}, pgx.CopyFromRows(mrows))
	return err
}
