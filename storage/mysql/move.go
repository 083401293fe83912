package mysql

import (
	"context"
	"errors"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore"
)

var _ sqlstore.MoveDialect = dialect{}

// MySQL error numbers of the procedure.
const (
	// erSPDoesNotExist (ER_SP_DOES_NOT_EXIST): no such procedure (tables
	// migrated by an earlier build, or a Migrate replacing it right now).
	erSPDoesNotExist = 1305
	// erProcAccessDenied (ER_PROCACCESS_DENIED_ERROR): no EXECUTE privilege.
	erProcAccessDenied = 1370
	// erSPAlreadyExists (ER_SP_ALREADY_EXISTS): a concurrent Migrate
	// created the procedure first.
	erSPAlreadyExists = 1304
)

// procedureSuffix names the procedure schema.sql creates, after the
// table prefix.
const procedureSuffix = "move_batch"

// Move calls the schema's procedure (see schema.sql), which runs the
// upsert of AddMember and, only if it wrote the row, the compare-and-swap
// of UpdateBatch: one round trip, two autocommit statements. A procedure
// the connection cannot call (missing, or no EXECUTE privilege) wrote
// nothing: Move reports false, false and the store sends the two
// statements instead. A deadlock victim is called again, as exec does:
// its rolled-back statement had no effect and the upsert of the same
// version writes the same row. Any other error is classified as a
// compare-and-swap's: one the server answered (a lock wait timeout, say)
// rolled back the statement it stopped, so the batch did not move while
// the row may stand, as after AddMember and a failed UpdateBatch.
func (d dialect) Move(ctx context.Context, _ sqlstore.Tables, m storage.Member, b storage.Batch, version int64, state string) (bool, bool, error) {
	for attempt := 1; ; attempt++ {
		var row, moved bool
		err := d.db.QueryRowContext(ctx, "CALL "+d.move+"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			m.Queue, m.State, m.BatchID, m.Version, d.TimeArg(m.AddedAt),
			sqlstore.PayloadArg(b.Payload), d.TimeArg(b.CreatedAt), d.TimeArg(b.UpdatedAt), version, state).Scan(&row, &moved)
		var me *gomysql.MySQLError
		switch {
		case err == nil:
			return row, moved, nil
		case !errors.As(err, &me):
			return false, false, err
		case me.Number == erSPDoesNotExist || me.Number == erProcAccessDenied:
			return false, false, nil
		case me.Number != erDeadlock || attempt >= deadlockRetries:
			return false, false, err
		}
	}
}
