package mysql

import (
	"context"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore"
)

var _ sqlstore.MoveDialect = dialect{}

// Move writes the row and the batch with one two-table UPDATE, one
// statement and one commit, when the row of the new state is already
// there (a batch that returns to a state it was in before Reconcile
// removed that row) and not newer: MySQL has no statement that inserts
// into one table and updates another. The row is read first
// (STRAIGHT_JOIN), as AddMember comes before UpdateBatch. When the UPDATE
// matches nothing — the row is missing or newer, or the batch is not at
// the expected version and state — nothing was written and the store
// runs AddMember and UpdateBatch.
func (d dialect) Move(ctx context.Context, t sqlstore.Tables, m storage.Member, b storage.Batch, version int64, state string) (bool, bool, error) {
	q := "UPDATE " + t.Members + " m STRAIGHT_JOIN " + t.Batches + " b ON b.queue = m.queue AND b.id = m.batch_id" +
		" SET m.version = ?, m.added_at = ?, b.state = ?, b.payload = ?, b.created_at = ?, b.updated_at = ?, b.version = b.version + 1" +
		" WHERE m.queue = ? AND m.state = ? AND m.batch_id = ? AND m.version <= ? AND b.version = ? AND b.state = ?"
	n, err := d.Exec(ctx, q, m.Version, d.TimeArg(m.AddedAt), d.KeyArg(b.State), sqlstore.PayloadArg(b.Payload),
		d.TimeArg(b.CreatedAt), d.TimeArg(b.UpdatedAt), d.KeyArg(m.Queue), d.KeyArg(m.State), d.KeyArg(m.BatchID), m.Version,
		version, d.KeyArg(state))
	return n > 0, n > 0, err
}
