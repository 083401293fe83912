package postgres

import (
	"context"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore"
)

var _ sqlstore.MoveDialect = dialect{}

// Move runs the upsert of the row and the compare-and-swap of the batch
// as one statement with two data-modifying WITH queries: one statement,
// one commit. The UPDATE runs only if the upsert wrote the row (its
// RETURNING is not empty), as Transition sends UpdateBatch only after
// AddMember succeeded; each sub-statement takes its row's lock, the
// row's first, as AddMember and UpdateBatch do one after the other.
func (d dialect) Move(ctx context.Context, t sqlstore.Tables, m storage.Member, b storage.Batch, version int64, state string) (bool, bool, error) {
	q := "WITH ins AS (INSERT INTO " + t.Members + " AS m (queue, state, batch_id, version, added_at) VALUES ($1, $2, $3, $4, $5)" +
		" ON CONFLICT (queue, state, batch_id) DO UPDATE SET version = EXCLUDED.version, added_at = EXCLUDED.added_at" +
		" WHERE m.version <= EXCLUDED.version RETURNING 1)," +
		" upd AS (UPDATE " + t.Batches + " SET state = $2, payload = $6, created_at = $7, updated_at = $8, version = version + 1" +
		" WHERE queue = $1 AND id = $3 AND version = $9 AND state = $10 AND EXISTS (SELECT 1 FROM ins) RETURNING 1)" +
		" SELECT EXISTS (SELECT 1 FROM ins), EXISTS (SELECT 1 FROM upd)"
	var row, moved bool
	err := d.db.QueryRow(ctx, q, d.KeyArg(m.Queue), d.KeyArg(m.State), d.KeyArg(m.BatchID), m.Version, d.TimeArg(m.AddedAt),
		sqlstore.PayloadArg(b.Payload), d.TimeArg(b.CreatedAt), d.TimeArg(b.UpdatedAt), version, d.KeyArg(state)).Scan(&row, &moved)
	return row, moved, err
}
