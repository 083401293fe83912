package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// Every statement the store runs is a primary-key point or prefix access:
// with sequential scans disabled (so that the planner shows what the
// statement can use, whatever the table size), EXPLAIN names the table's
// primary key for every read, update and delete, and the conditional
// upsert's arbiter is the primary key.
func TestEveryAccessUsesThePrimaryKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for q := range 5 {
		queue := fmt.Sprintf("q%02d", q)
		for i := range 5 {
			id := fmt.Sprintf("b%02d", i)
			_, err := f.store.CreateBatch(ctx, storage.Batch{Queue: queue, ID: id, State: "s", CreatedAt: now})
			require.NoError(t, err)
			require.NoError(t, f.store.AddMember(ctx, storage.Member{Queue: queue, State: "s", BatchID: id, Version: 1}))
		}
	}
	q := f.store.d.Q
	b := func(s string) []byte { return []byte(s) }
	cases := map[string]struct {
		query string
		args  []any
		pkey  string
	}{
		"GetBatch":        {q.GetBatch, []any{b("q03"), b("b04")}, "batches_pkey"},
		"GetBatches":      {q.GetBatches(2), []any{b("q03"), [][]byte{b("b01"), b("b02")}}, "batches_pkey"},
		"batch read-back": {q.BatchVersion, []any{b("q03"), b("b04")}, "batches_pkey"},
		"UpdateBatch":     {q.UpdateBatch, []any{b("s"), []byte{}, now, now, b("q03"), b("b04"), 1, b("s")}, "batches_pkey"},
		"AddMember":       {q.AddMember, []any{b("q03"), b("s"), b("b04"), 2, now}, "members_pkey"},
		"ListMembers":     {q.ListMembers, []any{b("q03"), b("s")}, "members_pkey"},
		"RemoveMember":    {q.RemoveMember, []any{b("q03"), b("s"), b("b04"), 1}, "members_pkey"},
		"GetApply":        {q.GetApply, []any{b("a03")}, "applies_pkey"},
		"apply read-back": {q.ApplyVersion, []any{b("a03")}, "applies_pkey"},
		"UpdateApply":     {q.UpdateApply, []any{b("s"), []byte{}, false, false, nil, nil, []byte{}, now, now, b("a03"), 1}, "applies_pkey"},
		"GetOperation":    {q.GetOperation, []any{b("a03"), b("o04")}, "operations_pkey"},
		"ListOperations":  {q.ListOperations, []any{b("a03")}, "operations_pkey"},
		"op read-back":    {q.OperationVersion, []any{b("a03"), b("o04")}, "operations_pkey"},
		"UpdateOperation": {q.UpdateOperation, []any{0, []byte{}, []byte{}, false, b("s"), []byte{}, []byte{}, nil, nil, []byte{}, now, now, false, []byte{}, 0, nil, nil, 0, b("a03"), b("o04"), 1}, "operations_pkey"},
	}
	for name, c := range cases {
		tx, err := f.pool.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "SET LOCAL enable_seqscan = off")
		require.NoError(t, err)
		rows, err := tx.Query(ctx, "EXPLAIN "+c.query, c.args...)
		require.NoError(t, err, name)
		var plan []string
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan = append(plan, line)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, tx.Rollback(ctx))
		text := strings.Join(plan, "\n")
		require.Contains(t, text, f.prefix+c.pkey, "%s uses the primary key:\n%s", name, text)
		require.NotContains(t, text, "Seq Scan", "%s:\n%s", name, text)
	}
}

// A duplicate create is storage.ErrAlreadyExists, and the native
// *pgconn.PgError (23505) stays reachable.
func TestDuplicateCreateKeepsTheNativeError(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "s"})
	require.NoError(t, err)
	_, err = f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "s"})
	require.ErrorIs(t, err, storage.ErrAlreadyExists)
	var native *pgconn.PgError
	require.True(t, errors.As(err, &native))
	require.Equal(t, "23505", native.Code)
}

// Migrate is idempotent, and the DDL Schema returns creates the same tables.
func TestMigrateIsIdempotentAndSchemaMatches(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, Migrate(ctx, f.pool, WithTablePrefix(f.prefix)))
	other := f.prefix + "x_"
	t.Cleanup(func() {
		_, _ = f.pool.Exec(context.Background(), `DROP TABLE IF EXISTS "`+other+`batches", "`+other+`members", "`+other+`applies", "`+other+`operations", "`+other+`schema"`)
	})
	ddl, err := Schema(WithTablePrefix(other))
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, ddl)
	require.NoError(t, err)
	columns := func(prefix, table string) string {
		rows, err := f.pool.Query(ctx, `SELECT column_name || ' ' || data_type || ' ' || is_nullable FROM information_schema.columns
			WHERE table_name = $1 ORDER BY ordinal_position`, prefix+table)
		require.NoError(t, err)
		cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return strings.Join(cols, ", ")
	}
	for _, table := range []string{"batches", "members", "applies", "operations"} {
		require.NotEmpty(t, columns(f.prefix, table))
		require.Equal(t, columns(f.prefix, table), columns(other, table), table)
	}
	require.Contains(t, columns(f.prefix, "batches"), "queue bytea NO", "keys are BYTEA: byte for byte, NUL allowed")
	require.Contains(t, columns(f.prefix, "batches"), "created_at timestamp with time zone YES")
}

// WithSchema qualifies every table name; Migrate then creates them in that
// schema, and the store works there.
func TestWithSchema(t *testing.T) {
	t.Parallel()
	pool := openPool(t)
	ctx := context.Background()
	schema := strings.ReplaceAll(storagetest.UniqueID("sfs"), "-", "_")
	_, err := pool.Exec(ctx, `CREATE SCHEMA "`+schema+`"`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`) })
	opts := []Option{WithSchema(schema)}
	require.NoError(t, Migrate(ctx, pool, opts...))
	s, err := New(pool, opts...)
	require.NoError(t, err)
	_, err = s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "s"})
	require.NoError(t, err)
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM "`+schema+`"."statefold_batches"`).Scan(&n))
	require.Equal(t, 1, n)
}

func TestInvalidOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []Option{WithTablePrefix("bad prefix"), WithTablePrefix(strings.Repeat("p", 33)),
		WithSchema("a;b"), WithChunkSize(0), WithChunkSize(MaxChunkSize + 1), WithChunkConcurrency(0), nil} {
		_, err := New(&pgx.Conn{}, o)
		require.ErrorIs(t, err, storage.ErrInvalid)
		_, err = Schema(o)
		require.ErrorIs(t, err, storage.ErrInvalid)
	}
	_, err := New(nil)
	require.ErrorIs(t, err, storage.ErrInvalid)
	require.ErrorIs(t, Migrate(context.Background(), nil), storage.ErrInvalid)
	// A single connection serves one call at a time: its chunks are read
	// one after another, and asking for more is an error.
	_, err = New(&pgx.Conn{}, WithChunkConcurrency(2))
	require.ErrorIs(t, err, storage.ErrInvalid)
	_, err = New(&pgx.Conn{}, WithChunkConcurrency(1))
	require.NoError(t, err)
}

// Times come back in UTC at microsecond precision whatever the session's
// TimeZone, and a store over a single *pgx.Conn works (reading its chunks
// one at a time).
func TestSessionTimeZoneAndSingleConn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(server.dsn)
	require.NoError(t, err)
	cfg.RuntimeParams["timezone"] = "America/Los_Angeles"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	s, err := New(conn, WithTablePrefix(f.prefix), WithChunkSize(2))
	require.NoError(t, err)
	at := time.Date(2031, 2, 3, 4, 5, 6, 789123456, time.FixedZone("X", 3*3600))
	var ids []string
	for i := range 5 {
		id := fmt.Sprintf("b%d", i)
		ids = append(ids, id)
		_, err := s.CreateBatch(ctx, storage.Batch{Queue: "tz", ID: id, State: "s", CreatedAt: at})
		require.NoError(t, err)
	}
	got, err := s.GetBatches(ctx, "tz", ids)
	require.NoError(t, err)
	require.Len(t, got, 5, "three chunks of at most 2, read one after another")
	for _, b := range got {
		require.Equal(t, time.UTC, b.CreatedAt.Location())
		require.True(t, b.CreatedAt.Equal(storage.NormalizeTime(at)), "%v", b.CreatedAt)
	}
	viaPool, err := f.store.GetBatch(ctx, "tz", "b0")
	require.NoError(t, err)
	require.Equal(t, got[0].CreatedAt, viaPool.CreatedAt)
}

// beforeReadBack is a DB that runs hook once, just before the first
// statement whose text is readBack: a deterministic interleaving between
// a compare-and-swap's UPDATE and its read-back.
type beforeReadBack struct {
	DB
	readBack string
	hook     func()
}

func (d *beforeReadBack) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if sql == d.readBack && d.hook != nil {
		hook := d.hook
		d.hook = nil
		hook()
	}
	return d.DB.QueryRow(ctx, sql, args...)
}

// An update of a missing batch whose row another caller creates between
// the UPDATE and the read-back: the read finds the expected version and
// state, so the store runs the UPDATE again (it succeeds) instead of
// reporting a conflict that never existed.
func TestUpdateRacingACreate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	db := &beforeReadBack{DB: f.pool, readBack: f.store.d.Q.BatchVersion, hook: func() {
		_, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
		require.NoError(t, err)
	}}
	s, err := New(db, WithTablePrefix(f.prefix))
	require.NoError(t, err)
	got, err := s.UpdateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "running"}, 1, "queued")
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Version)
	require.Nil(t, db.hook, "the read-back ran")
	stored, err := f.store.GetBatch(ctx, "q", "b")
	require.NoError(t, err)
	require.Equal(t, "running", stored.State)
}

// A store over a transaction reads one chunk at a time: a pgx.Tx, like a
// *pgx.Conn, serves one call at a time.
func TestStoreOverATransaction(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	s, err := New(tx, WithTablePrefix(f.prefix), WithChunkSize(1))
	require.NoError(t, err)
	var ids []string
	for i := range 8 {
		id := fmt.Sprintf("b%d", i)
		_, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: id, State: "queued"})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	got, err := s.GetBatches(ctx, "q", ids)
	require.NoError(t, err, "eight one-id chunks on one connection")
	require.Len(t, got, 8)
}
