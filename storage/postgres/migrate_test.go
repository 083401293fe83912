package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/internal/testenv"
	"github.com/statefold/statefold/storage"
)

// previousOperationsDDL is the operations table as the release before
// operation ownership created it.
const previousOperationsDDL = `CREATE TABLE "%soperations" (
  apply_id      BYTEA       NOT NULL,
  id            BYTEA       NOT NULL,
  seq           BIGINT      NOT NULL,
  deployment    BYTEA       NOT NULL,
  op_group      BYTEA       NOT NULL,
  finalizer     BOOLEAN     NOT NULL,
  state         BYTEA       NOT NULL,
  on_failure    BYTEA       NOT NULL,
  error_message BYTEA       NOT NULL,
  started_at    TIMESTAMPTZ NULL,
  completed_at  TIMESTAMPTZ NULL,
  projected     BOOLEAN     NOT NULL DEFAULT FALSE,
  payload       BYTEA       NOT NULL,
  version       BIGINT      NOT NULL,
  created_at    TIMESTAMPTZ NULL,
  updated_at    TIMESTAMPTZ NULL,
  PRIMARY KEY (apply_id, id)
)`

// Migrate upgrades an operations table created by the previous release in
// place: afterwards its columns are exactly those of the table Schema
// creates, the rows written before read with Owner, OwnerToken, OwnerUntil
// and ReleasedAt zero and every other field as written, those fields
// round-trip on old and new rows, and a second Migrate changes nothing.
func TestMigrateUpgradesThePreviousReleasesOperationsTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fresh := newFixture(t) // the tables Schema creates, for comparison
	pool := fresh.pool
	prefix := testenv.TablePrefix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = pool.Exec(ctx, `DROP TABLE IF EXISTS "`+prefix+`batches", "`+prefix+`members", "`+prefix+`applies", "`+prefix+`operations", "`+prefix+`schema"`)
	})
	table := `"` + prefix + `operations"`
	_, err := pool.Exec(ctx, strings.Replace(previousOperationsDDL, "%s", prefix, 1))
	require.NoError(t, err)

	// Rows as the previous release wrote them: one untouched since create,
	// one settled with every time set.
	at := time.Date(2030, 4, 5, 6, 7, 8, 123456000, time.UTC)
	old := []storage.Operation{
		{ApplyID: "a", ID: "pending", Seq: 1, Deployment: "east", State: "pending", OnFailure: "halt",
			Version: 1, CreatedAt: at, UpdatedAt: at},
		{ApplyID: "a", ID: "failed", Seq: 2, Deployment: "west", Group: "g", State: "failed", OnFailure: "continue",
			ErrorMessage: "boom", StartedAt: at.Add(time.Second), CompletedAt: at.Add(2 * time.Second),
			Payload: []byte("p"), Version: 4, CreatedAt: at, UpdatedAt: at.Add(2 * time.Second), Projected: true},
	}
	for _, op := range old {
		_, err := pool.Exec(ctx, "INSERT INTO "+table+" (apply_id, id, seq, deployment, op_group, finalizer, state,"+
			" on_failure, error_message, started_at, completed_at, projected, payload, version, created_at, updated_at)"+
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
			key(op.ApplyID), key(op.ID), op.Seq, key(op.Deployment), key(op.Group), op.Finalizer, key(op.State),
			key(op.OnFailure), key(op.ErrorMessage), timeArg(op.StartedAt), timeArg(op.CompletedAt), op.Projected,
			payloadArg(op.Payload), op.Version, timeArg(op.CreatedAt), timeArg(op.UpdatedAt))
		require.NoError(t, err)
	}

	for range 2 {
		require.NoError(t, Migrate(ctx, pool, WithTablePrefix(prefix)), "Migrate is idempotent")
	}
	columns := func(name string) []string {
		rows, err := pool.Query(ctx, `SELECT column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
			coalesce(column_default, '-') FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, name)
		require.NoError(t, err)
		cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return cols
	}
	want := columns(fresh.prefix + "operations")
	require.Contains(t, want, "owner_token bigint NO 0")
	require.Equal(t, want, columns(prefix+"operations"), "the upgraded table is the one Schema creates")

	s, err := New(pool, WithTablePrefix(prefix))
	require.NoError(t, err)
	for _, want := range old {
		op, err := s.GetOperation(ctx, "a", want.ID)
		require.NoError(t, err)
		require.Equal(t, want, op, "a row written before the upgrade reads as written, the new fields zero")
	}
	list, err := s.ListOperations(ctx, "a")
	require.NoError(t, err)
	require.ElementsMatch(t, old, list)

	// The new fields round-trip on an old row and on a new one.
	up := old[1]
	up.Owner, up.OwnerToken, up.OwnerUntil, up.ReleasedAt = "loop-1", 9, at.Add(time.Minute), at.Add(3*time.Second)
	up, err = s.UpdateOperation(ctx, up, old[1].Version)
	require.NoError(t, err)
	read, err := s.GetOperation(ctx, "a", up.ID)
	require.NoError(t, err)
	require.Equal(t, up, read)

	created, err := s.CreateOperation(ctx, storage.Operation{ApplyID: "a", ID: "new", Seq: 3, State: "running",
		OnFailure: "pause", StartedAt: at, Owner: "loop-2", OwnerToken: 1, OwnerUntil: at.Add(time.Hour),
		CreatedAt: at, UpdatedAt: at})
	require.NoError(t, err)
	read, err = s.GetOperation(ctx, "a", "new")
	require.NoError(t, err)
	require.Equal(t, created, read)
	require.Equal(t, "loop-2", read.Owner)
	require.Equal(t, int64(1), read.OwnerToken)
}

// Migrates racing on the previous release's tables all succeed and leave
// the operations table with the columns of the table Schema creates. (The
// tables exist: concurrent CREATE TABLE IF NOT EXISTS of a new table can
// fail in PostgreSQL itself.)
func TestConcurrentMigratesUpgradeOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fresh := newFixture(t)
	pool := fresh.pool
	prefix := testenv.TablePrefix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = pool.Exec(ctx, `DROP TABLE IF EXISTS "`+prefix+`batches", "`+prefix+`members", "`+prefix+`applies", "`+prefix+`operations", "`+prefix+`schema"`)
	})
	_, err := pool.Exec(ctx, strings.Replace(previousOperationsDDL, "%s", prefix, 1))
	require.NoError(t, err)
	c, err := newConfig([]Option{WithTablePrefix(prefix)}, false)
	require.NoError(t, err)
	for _, stmt := range schemaStatements(c) {
		if strings.HasPrefix(stmt, "CREATE TABLE") && !strings.Contains(stmt, tables(c).Operations) {
			_, err := pool.Exec(ctx, stmt)
			require.NoError(t, err)
		}
	}
	var g errgroup.Group
	for range 4 {
		g.Go(func() error { return Migrate(ctx, pool, WithTablePrefix(prefix)) })
	}
	require.NoError(t, g.Wait())
	columns := func(name string) []string {
		rows, err := pool.Query(ctx, `SELECT column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
			coalesce(column_default, '-') FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, name)
		require.NoError(t, err)
		cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return cols
	}
	require.Equal(t, columns(fresh.prefix+"operations"), columns(prefix+"operations"))
}
