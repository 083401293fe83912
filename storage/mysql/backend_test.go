package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore"
)

// Keys that a utf8mb4 collation would treat as equal stay distinct: case,
// MariaDB's PAD SPACE (trailing blanks), accents, expansions, NUL, and
// characters the SQL layer treats specially.
func TestKeysCompareByteForByte(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	keys := []string{"q", "Q", "q ", "q  ", " q", "q\t", "q\x00", "é", "e\u0301", "É", "ss", "ß",
		"%", "_", "q%", "'", "\\", "a`b", "a;b", "ａ", "🙂"}
	queue := "Queue "
	for i, k := range keys {
		state := fmt.Sprintf("s%d", i)
		_, err := f.store.CreateBatch(ctx, storage.Batch{Queue: queue, ID: k, State: state})
		require.NoError(t, err, "id %q", k)
		require.NoError(t, f.store.AddMember(ctx, storage.Member{Queue: queue, State: k, BatchID: k, Version: int64(i + 1)}))
		_, err = f.store.CreateApply(ctx, storage.Apply{ID: k, State: state})
		require.NoError(t, err, "apply %q", k)
		_, err = f.store.CreateOperation(ctx, storage.Operation{ApplyID: k, ID: k, State: state})
		require.NoError(t, err, "operation %q", k)
	}
	ids := make([]string, 0, len(keys))
	for i, k := range keys {
		state := fmt.Sprintf("s%d", i)
		b, err := f.store.GetBatch(ctx, queue, k)
		require.NoError(t, err)
		require.Equal(t, k, b.ID)
		require.Equal(t, state, b.State, "id %q read another row", k)

		ms, err := f.store.ListMembers(ctx, queue, k)
		require.NoError(t, err)
		require.Len(t, ms, 1, "bucket %q", k)
		require.Equal(t, k, ms[0].BatchID)
		require.Equal(t, int64(i+1), ms[0].Version)

		a, err := f.store.GetApply(ctx, k)
		require.NoError(t, err)
		require.Equal(t, state, a.State, "apply %q", k)

		ops, err := f.store.ListOperations(ctx, k)
		require.NoError(t, err)
		require.Len(t, ops, 1, "operations of %q", k)
		require.Equal(t, k, ops[0].ID)
		ids = append(ids, k)
	}
	got, err := f.store.GetBatches(ctx, queue, ids)
	require.NoError(t, err)
	require.Len(t, got, len(keys))

	// The queue itself compares byte for byte too.
	for _, q := range []string{"queue ", "Queue", "Queue  ", "QUEUE "} {
		_, err := f.store.GetBatch(ctx, q, "q")
		require.ErrorIs(t, err, storage.ErrNotFound, "queue %q", q)
		ms, err := f.store.ListMembers(ctx, q, "q")
		require.NoError(t, err)
		require.Empty(t, ms, "queue %q", q)
	}
	// The batch compare-and-swap compares the state byte for byte.
	first, err := f.store.GetBatch(ctx, queue, keys[0])
	require.NoError(t, err)
	for _, st := range []string{"S0", "s0 ", "s0\x00", " s0"} {
		_, err := f.store.UpdateBatch(ctx, first, first.Version, st)
		require.ErrorIs(t, err, storage.ErrConflict, "expected state %q", st)
	}
	_, err = f.store.UpdateBatch(ctx, first, first.Version, "s0")
	require.NoError(t, err)

	// A conditional remove touches only its exact key.
	require.NoError(t, f.store.RemoveMember(ctx, queue, "q", "q", 100))
	for _, k := range keys[1:] {
		ms, err := f.store.ListMembers(ctx, queue, k)
		require.NoError(t, err)
		require.Len(t, ms, 1, "bucket %q lost its row", k)
	}
}

// MySQL reports changed rows as affected by default, so a compare-and-swap
// that writes the values already stored must still count: it does, because
// the UPDATE always bumps the version. Checked with and without
// clientFoundRows.
func TestCASCountsIdenticalWrites(t *testing.T) {
	t.Parallel()
	for _, foundRows := range []bool{false, true} {
		t.Run(fmt.Sprintf("clientFoundRows=%v", foundRows), func(t *testing.T) {
			t.Parallel()
			f := newFixtureOn(t, openDB(t, func(c *gomysql.Config) { c.ClientFoundRows = foundRows }))
			ctx := context.Background()
			now := time.Date(2031, 2, 3, 4, 5, 6, 7000, time.UTC)
			b, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "s", Payload: []byte("p"), CreatedAt: now, UpdatedAt: now})
			require.NoError(t, err)
			for want := int64(2); want <= 4; want++ {
				b, err = f.store.UpdateBatch(ctx, b, b.Version, b.State)
				require.NoError(t, err)
				require.Equal(t, want, b.Version)
			}
			_, err = f.store.UpdateBatch(ctx, b, 3, b.State)
			require.ErrorIs(t, err, storage.ErrConflict)
			_, err = f.store.UpdateBatch(ctx, b, 4, "S")
			require.ErrorIs(t, err, storage.ErrConflict, "the right version in another state")
			stored, err := f.store.GetBatch(ctx, "q", "b")
			require.NoError(t, err)
			require.Equal(t, int64(4), stored.Version)

			a, err := f.store.CreateApply(ctx, storage.Apply{ID: "a", State: "pending", CreatedAt: now})
			require.NoError(t, err)
			a, err = f.store.UpdateApply(ctx, a, 1)
			require.NoError(t, err)
			require.Equal(t, int64(2), a.Version)
			op, err := f.store.CreateOperation(ctx, storage.Operation{ApplyID: "a", ID: "o", State: "pending"})
			require.NoError(t, err)
			op, err = f.store.UpdateOperation(ctx, op, 1)
			require.NoError(t, err)
			require.Equal(t, int64(2), op.Version)
		})
	}
}

// AddMember learns that a higher version is stored from the statement's
// insert id, not from "rows affected" (which clientFoundRows changes: an
// untouched duplicate counts 1, like an insert), so the conflict is the same
// whatever the DSN says.
func TestAddMemberConflictWhateverTheDSN(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ foundRows, interpolate bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		t.Run(fmt.Sprintf("clientFoundRows=%v,interpolateParams=%v", c.foundRows, c.interpolate), func(t *testing.T) {
			t.Parallel()
			db := openDB(t, func(cfg *gomysql.Config) {
				cfg.ClientFoundRows, cfg.InterpolateParams = c.foundRows, c.interpolate
			})
			db.SetMaxOpenConns(1) // one session: LAST_INSERT_ID() is per session
			f := newFixtureOn(t, db)
			ctx := context.Background()
			at := func(s int) time.Time { return time.Date(2031, 2, 3, 4, 5, s, 0, time.UTC) }
			m := func(v int64, s int) storage.Member {
				return storage.Member{Queue: "q", State: "s", BatchID: "b", Version: v, AddedAt: at(s)}
			}
			require.NoError(t, f.store.AddMember(ctx, m(5, 1)), "insert")
			for range 2 {
				err := f.store.AddMember(ctx, m(4, 2))
				require.ErrorIs(t, err, storage.ErrConflict, "a lower version")
				require.ErrorContains(t, err, "stored version 5")
			}
			require.NoError(t, f.store.AddMember(ctx, m(5, 1)), "the same row again (nothing changes)")
			require.NoError(t, f.store.AddMember(ctx, m(5, 3)), "an equal version (AddedAt changes)")
			require.NoError(t, f.store.AddMember(ctx, m(6, 3)), "a higher version")
			require.ErrorIs(t, f.store.AddMember(ctx, m(1, 9)), storage.ErrConflict)
			ms, err := f.store.ListMembers(ctx, "q", "s")
			require.NoError(t, err)
			require.Equal(t, []storage.Member{m(6, 3)}, ms)
			// A statement without LAST_INSERT_ID on the same connection does
			// not inherit the session value.
			require.NoError(t, f.store.AddMember(ctx, storage.Member{Queue: "q", State: "s", BatchID: "c", Version: 1}))
		})
	}
}

// Times and keys round-trip exactly whatever the DSN says about parseTime,
// loc, interpolateParams, clientFoundRows, the session time_zone and
// sql_mode; times are stored as UTC wall clock values, so pools with
// different settings agree.
func TestDSNAndSessionSettingsDoNotMatter(t *testing.T) {
	t.Parallel()
	plain := newFixture(t)
	odd := openDB(t, func(c *gomysql.Config) {
		c.ParseTime = true
		c.Loc = time.FixedZone("UTC+5:30", 5*3600+1800)
		c.InterpolateParams = true
		c.ClientFoundRows = true
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		c.Params["time_zone"] = "'-07:00'"
		c.Params["sql_mode"] = "'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT'"
	})
	oddStore, err := New(odd, WithTablePrefix(plain.prefix))
	require.NoError(t, err)
	ctx := context.Background()
	var mode, zone string
	require.NoError(t, odd.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode, @@SESSION.time_zone").Scan(&mode, &zone))
	require.Contains(t, mode, "NO_BACKSLASH_ESCAPES")
	require.Equal(t, "-07:00", zone)
	times := []time.Time{
		time.Date(2030, 6, 30, 23, 59, 59, 999999000, time.UTC),
		time.Date(2030, 1, 1, 0, 0, 0, 1000, time.FixedZone("x", -3*3600)),
		storage.MinTime,
		storage.MaxTime,
	}
	for i, at := range times {
		for j, w := range []*Store{plain.store, oddStore} {
			apply := fmt.Sprintf("a%d-%d", i, j)
			in := storage.Apply{ID: apply, State: "running", StartedAt: at, CreatedAt: at, UpdatedAt: at}
			_, err := w.CreateApply(ctx, in)
			require.NoError(t, err)
			for _, r := range []*Store{plain.store, oddStore} {
				got, err := r.GetApply(ctx, apply)
				require.NoError(t, err)
				want := storage.NormalizeTime(at)
				require.True(t, want.Equal(got.StartedAt), "%v read back as %v", want, got.StartedAt)
				require.Equal(t, time.UTC, got.StartedAt.Location())
				require.True(t, got.CompletedAt.IsZero(), "zero time stays zero")
				require.True(t, want.Equal(got.CreatedAt))
			}
			for k, w := range []*Store{plain.store, oddStore} {
				key := fmt.Sprintf("it's \\ a \"key\" ` %%_ \x00 %d-%d-%d", i, j, k)
				_, err := w.CreateBatch(ctx, storage.Batch{Queue: key, ID: key, State: key, CreatedAt: at})
				require.NoError(t, err)
				require.NoError(t, w.AddMember(ctx, storage.Member{Queue: key, State: key, BatchID: key, Version: 1, AddedAt: at}))
				for _, r := range []*Store{plain.store, oddStore} {
					b, err := r.GetBatch(ctx, key, key)
					require.NoError(t, err)
					require.Equal(t, key, b.State)
					require.True(t, storage.NormalizeTime(at).Equal(b.CreatedAt))
					ms, err := r.ListMembers(ctx, key, key)
					require.NoError(t, err)
					require.Len(t, ms, 1)
					require.Equal(t, key, ms[0].BatchID)
					require.True(t, storage.NormalizeTime(at).Equal(ms[0].AddedAt))
				}
			}
			var raw string
			require.NoError(t, plain.db.QueryRowContext(ctx, "SELECT "+timeCol("started_at")+" FROM "+plain.table("applies")+
				" WHERE id = ?", apply).Scan(&raw))
			require.Equal(t, storage.NormalizeTime(at).Format(timeWire), raw, "stored as the UTC wall clock")
		}
	}
}

// sessionStatus reads a counter of the pool's only connection (its
// session status), by a statement the counters of prepared statements
// do not count.
func sessionStatus(t *testing.T, db *sql.DB, counter string) int {
	t.Helper()
	var name string
	var n int
	require.NoError(t, db.QueryRowContext(context.Background(), "SHOW SESSION STATUS LIKE '"+counter+"'").Scan(&name, &n))
	return n
}

// comStmtExecute reads how many prepared statements the pool's only
// connection has executed.
func comStmtExecute(t *testing.T, db *sql.DB) int { return sessionStatus(t, db, "Com_stmt_execute") }

// GetBatches sends one query per chunk of WithChunkSize distinct ids.
func TestGetBatchesQueriesPerChunk(t *testing.T) {
	t.Parallel()
	db := openDB(t, func(c *gomysql.Config) { c.InterpolateParams = false })
	db.SetMaxOpenConns(1) // one session, so its status counts our statements
	f := newFixtureOn(t, db, WithChunkSize(7))
	ctx := context.Background()
	var ids []string
	for i := range 20 {
		id := fmt.Sprintf("b%02d", i)
		_, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: id, State: "s"})
		require.NoError(t, err)
		ids = append(ids, id, id) // 20 distinct ids → 3 chunks
	}
	before := comStmtExecute(t, db)
	got, err := f.store.GetBatches(ctx, "q", ids)
	require.NoError(t, err)
	require.Len(t, got, 20)
	require.Equal(t, 3, comStmtExecute(t, db)-before, "statements for 20 ids in chunks of 7")

	before = comStmtExecute(t, db)
	got, err = f.store.GetBatches(ctx, "q", nil)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, 0, comStmtExecute(t, db)-before, "no ids, no query")
}

// The tables Migrate creates are the documented ones: byte-comparing keys,
// primary keys that lead with the partition key, DATETIME(6) times, and no
// other index.
func TestMigratedTablesMatchTheDesign(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for table, pk := range map[string][]string{
		"batches":    {"queue", "id"},
		"members":    {"queue", "state", "batch_id"},
		"applies":    {"id"},
		"operations": {"apply_id", "id"},
	} {
		name := f.prefix + table
		rows, err := f.db.QueryContext(ctx, "SELECT index_name, column_name FROM information_schema.statistics"+
			" WHERE table_schema = DATABASE() AND table_name = ? ORDER BY index_name, seq_in_index", name)
		require.NoError(t, err)
		var got []string
		for rows.Next() {
			var index, col string
			require.NoError(t, rows.Scan(&index, &col))
			require.Equal(t, "PRIMARY", index, "%s has a secondary index", name)
			got = append(got, col)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		require.Equal(t, pk, got, "%s primary key", name)

		rows, err = f.db.QueryContext(ctx, "SELECT column_name, column_type FROM information_schema.columns"+
			" WHERE table_schema = DATABASE() AND table_name = ?", name)
		require.NoError(t, err)
		types := map[string]string{}
		for rows.Next() {
			var col, typ string
			require.NoError(t, rows.Scan(&col, &typ))
			types[col] = strings.ToLower(typ)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		for _, col := range pk {
			require.Equal(t, "varbinary(255)", types[col], "%s.%s", name, col)
		}
		require.Equal(t, "varbinary(255)", types["state"], "%s.state", name)
		for col, typ := range types {
			if strings.HasSuffix(col, "_at") {
				require.Equal(t, "datetime(6)", typ, "%s.%s", name, col)
			}
		}
	}
}

// The DDL Schema returns runs as is and creates the same tables as Migrate.
func TestSchemaCreatesWhatMigrateCreates(t *testing.T) {
	t.Parallel()
	migrated := newFixture(t)
	ctx := context.Background()
	db := migrated.db
	other := migrated.prefix + "x_"
	t.Cleanup(func() {
		_, _ = db.ExecContext(context.Background(), "DROP TABLE IF EXISTS `"+other+"batches`, `"+other+"members`, `"+
			other+"applies`, `"+other+"operations`, `"+other+"schema`")
		_, _ = db.ExecContext(context.Background(), "DROP PROCEDURE IF EXISTS `"+other+procedureSuffix+"`")
	})
	ddl, err := Schema(WithTablePrefix(other))
	require.NoError(t, err)
	stmts := sqlstore.Split(ddl)
	require.Len(t, stmts, 8, "four tables, the procedure (dropped, then created), the schema table and its version row")
	for _, stmt := range stmts {
		_, err := db.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	s, err := New(db, WithTablePrefix(other))
	require.NoError(t, err)
	require.NoError(t, s.Check(ctx))
	for _, table := range []string{"batches", "members", "applies", "operations", "schema"} {
		var n1, n2, want, got string
		require.NoError(t, db.QueryRowContext(ctx, "SHOW CREATE TABLE "+migrated.table(table)).Scan(&n1, &want))
		require.NoError(t, db.QueryRowContext(ctx, "SHOW CREATE TABLE `"+other+table+"`").Scan(&n2, &got))
		require.Equal(t, strings.Replace(want, migrated.prefix, other, 1), got, table)
	}
}

// Migrate upgrades an operations table created by v0.1.0 (no projected
// column) in place: existing rows read back Projected false, and a second
// Migrate changes nothing.
func TestMigrateAddsProjectedToOldTables(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.db.ExecContext(ctx, "ALTER TABLE "+f.table("operations")+" DROP COLUMN projected")
	require.NoError(t, err)
	_, err = f.db.ExecContext(ctx, "INSERT INTO "+f.table("operations")+" (apply_id, id, seq, deployment, op_group,"+
		" finalizer, state, on_failure, error_message, payload, version) VALUES ('a', 'op', 1, '', '', 0, 'running', '', '', '', 3)")
	require.NoError(t, err)
	for range 2 {
		require.NoError(t, Migrate(ctx, f.db, WithTablePrefix(f.prefix)))
	}
	op, err := f.store.GetOperation(ctx, "a", "op")
	require.NoError(t, err)
	require.False(t, op.Projected)
	require.Equal(t, int64(3), op.Version)
	op.Projected = true
	got, err := f.store.UpdateOperation(ctx, op, 3)
	require.NoError(t, err)
	require.True(t, got.Projected)
}

// Check passes on a migrated store, and names each thing that would break
// the store silently: autocommit off, missing tables (run Migrate).
func TestCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.store.Check(ctx))

	noAuto, err := New(openDB(t, func(c *gomysql.Config) {
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		c.Params["autocommit"] = "0"
	}), WithTablePrefix(f.prefix))
	require.NoError(t, err)
	err = noAuto.Check(ctx)
	require.ErrorIs(t, err, storage.ErrInvalid)
	require.ErrorContains(t, err, "autocommit is off")

	missing, err := New(f.db, WithTablePrefix(f.prefix+"nothing_"))
	require.NoError(t, err)
	err = missing.Check(ctx)
	require.ErrorIs(t, err, storage.ErrSchema)
	require.ErrorContains(t, err, "run Migrate")
}
