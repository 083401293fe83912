package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/internal/testenv"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore/sqltest"
)

// previousOperationsDDL is the operations table as the release before
// operation ownership created it (v0.1.0 lacked projected as well).
const previousOperationsDDL = "CREATE TABLE `%soperations` (\n" +
	"  apply_id      VARBINARY(255) NOT NULL,\n" +
	"  id            VARBINARY(255) NOT NULL,\n" +
	"  seq           BIGINT         NOT NULL,\n" +
	"  deployment    VARBINARY(255) NOT NULL,\n" +
	"  op_group      VARBINARY(255) NOT NULL,\n" +
	"  finalizer     BOOLEAN        NOT NULL,\n" +
	"  state         VARBINARY(255) NOT NULL,\n" +
	"  on_failure    VARBINARY(255) NOT NULL,\n" +
	"  error_message BLOB           NOT NULL,\n" +
	"  started_at    DATETIME(6)    NULL,\n" +
	"  completed_at  DATETIME(6)    NULL,\n" +
	"  payload       MEDIUMBLOB     NOT NULL,\n" +
	"  version       BIGINT         NOT NULL,\n" +
	"  created_at    DATETIME(6)    NULL,\n" +
	"  updated_at    DATETIME(6)    NULL,\n" +
	"  projected     BOOLEAN        NOT NULL DEFAULT FALSE,\n" +
	"  PRIMARY KEY (apply_id, id)\n" +
	") ENGINE=InnoDB"

// Migrate upgrades an operations table created by an earlier release (the
// previous one, and v0.1.0 without projected) in place: afterwards the
// table is exactly the one Schema creates, the rows written before read
// with Owner, OwnerToken, OwnerUntil and ReleasedAt zero and every other
// field as written, those fields round-trip on old and new rows, and a
// second Migrate changes nothing.
func TestMigrateUpgradesAnEarlierReleasesOperationsTable(t *testing.T) {
	t.Parallel()
	for name, ddl := range map[string]string{
		"previous": previousOperationsDDL,
		"v0.1.0":   strings.Replace(previousOperationsDDL, "  projected     BOOLEAN        NOT NULL DEFAULT FALSE,\n", "", 1),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testMigrateUpgrade(t, ddl, name == "previous")
		})
	}
}

func testMigrateUpgrade(t *testing.T, ddl string, hasProjected bool) {
	ctx := context.Background()
	fresh := newFixture(t) // the tables Schema creates, for comparison
	db := fresh.db
	prefix := testenv.TablePrefix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP TABLE IF EXISTS `"+prefix+"batches`, `"+prefix+"members`, `"+
			prefix+"applies`, `"+prefix+"operations`, `"+prefix+"schema`")
	})
	table := "`" + prefix + "operations`"
	_, err := db.ExecContext(ctx, strings.Replace(ddl, "%s", prefix, 1))
	require.NoError(t, err)

	// Rows as the earlier release wrote them: one untouched since create,
	// one settled with every time set.
	cols := "apply_id, id, seq, deployment, op_group, finalizer, state, on_failure, error_message," +
		" started_at, completed_at, payload, version, created_at, updated_at"
	vals := "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
	if hasProjected {
		cols, vals = cols+", projected", vals+", ?"
	}
	at := time.Date(2030, 4, 5, 6, 7, 8, 123456000, time.UTC)
	old := []storage.Operation{
		{ApplyID: "a", ID: "pending", Seq: 1, Deployment: "east", State: "pending", OnFailure: "halt",
			Version: 1, CreatedAt: at, UpdatedAt: at},
		{ApplyID: "a", ID: "failed", Seq: 2, Deployment: "west", Group: "g", State: "failed", OnFailure: "continue",
			ErrorMessage: "boom", StartedAt: at.Add(time.Second), CompletedAt: at.Add(2 * time.Second),
			Payload: []byte("p"), Version: 4, CreatedAt: at, UpdatedAt: at.Add(2 * time.Second), Projected: hasProjected},
	}
	for _, op := range old {
		args := []any{op.ApplyID, op.ID, op.Seq, op.Deployment, op.Group, op.Finalizer, op.State, op.OnFailure,
			op.ErrorMessage, timeArg(op.StartedAt), timeArg(op.CompletedAt), payloadArg(op.Payload), op.Version,
			timeArg(op.CreatedAt), timeArg(op.UpdatedAt)}
		if hasProjected {
			args = append(args, op.Projected)
		}
		_, err := db.ExecContext(ctx, "INSERT INTO "+table+" ("+cols+") VALUES ("+vals+")", args...)
		require.NoError(t, err)
	}

	for range 2 {
		require.NoError(t, Migrate(ctx, db, WithTablePrefix(prefix)), "Migrate is idempotent")
	}
	var n1, n2, want, got string
	require.NoError(t, db.QueryRowContext(ctx, "SHOW CREATE TABLE "+fresh.table("operations")).Scan(&n1, &want))
	require.NoError(t, db.QueryRowContext(ctx, "SHOW CREATE TABLE "+table).Scan(&n2, &got))
	require.Equal(t, strings.Replace(want, fresh.prefix, prefix, 1), got, "the upgraded table is the one Schema creates")

	s, err := New(db, WithTablePrefix(prefix))
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

	fresh1 := storage.Operation{ApplyID: "a", ID: "new", Seq: 3, State: "running", OnFailure: "pause",
		StartedAt: at, Owner: "loop-2", OwnerToken: 1, OwnerUntil: at.Add(time.Hour), CreatedAt: at, UpdatedAt: at}
	created, err := s.CreateOperation(ctx, fresh1)
	require.NoError(t, err)
	read, err = s.GetOperation(ctx, "a", "new")
	require.NoError(t, err)
	require.Equal(t, created, read)
	require.Equal(t, "loop-2", read.Owner)
	require.Equal(t, int64(1), read.OwnerToken)
}

// Migrates racing on an earlier release's table all succeed, and the table
// ends as the one Schema creates: a column another Migrate added between
// this one's read of information_schema and its ALTER is taken as added.
func TestConcurrentMigratesUpgradeOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fresh := newFixture(t)
	db := fresh.db
	prefix := testenv.TablePrefix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP TABLE IF EXISTS `"+prefix+"batches`, `"+prefix+"members`, `"+
			prefix+"applies`, `"+prefix+"operations`, `"+prefix+"schema`")
	})
	_, err := db.ExecContext(ctx, strings.Replace(previousOperationsDDL, "%s", prefix, 1))
	require.NoError(t, err)
	var g errgroup.Group
	for range 4 {
		g.Go(func() error { return Migrate(ctx, db, WithTablePrefix(prefix)) })
	}
	require.NoError(t, g.Wait())
	var n1, n2, want, got string
	require.NoError(t, db.QueryRowContext(ctx, "SHOW CREATE TABLE "+fresh.table("operations")).Scan(&n1, &want))
	require.NoError(t, db.QueryRowContext(ctx, "SHOW CREATE TABLE `"+prefix+"operations`").Scan(&n2, &got))
	require.Equal(t, strings.Replace(want, fresh.prefix, prefix, 1), got)
}

// Check names an earlier release's operations table, which lacks columns
// this release reads, as a reason to run Migrate; after Migrate it passes.
func TestCheckAsksForMigrateOnAnEarlierTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fresh := newFixture(t)
	db := fresh.db
	prefix := testenv.TablePrefix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP TABLE IF EXISTS `"+prefix+"batches`, `"+prefix+"members`, `"+
			prefix+"applies`, `"+prefix+"operations`, `"+prefix+"schema`")
	})
	_, err := db.ExecContext(ctx, strings.Replace(previousOperationsDDL, "%s", prefix, 1))
	require.NoError(t, err)
	c, err := newConfig([]Option{WithTablePrefix(prefix)})
	require.NoError(t, err)
	for _, stmt := range schemaStatements(c) {
		if !strings.Contains(stmt, tables(c).Operations) {
			_, err := db.ExecContext(ctx, stmt)
			require.NoError(t, err)
		}
	}
	s, err := New(db, WithTablePrefix(prefix))
	require.NoError(t, err)
	err = s.Check(ctx)
	require.ErrorIs(t, err, storage.ErrSchema)
	require.ErrorContains(t, err, "run Migrate")
	require.ErrorContains(t, err, "owner")

	require.NoError(t, Migrate(ctx, db, WithTablePrefix(prefix)))
	require.NoError(t, s.Check(ctx))
}

// v01Tables creates v0.1.0's four tables under prefix (no schema table,
// no projected or owner columns) with one operation row, and drops them
// and the schema table at the end of the test.
func v01Tables(t *testing.T, db *sql.DB, prefix string) {
	ctx := context.Background()
	t.Cleanup(func() {
		_, _ = db.ExecContext(context.Background(), "DROP TABLE IF EXISTS `"+prefix+"batches`, `"+prefix+"members`, `"+
			prefix+"applies`, `"+prefix+"operations`, `"+prefix+"schema`")
	})
	c, err := newConfig([]Option{WithTablePrefix(prefix)})
	require.NoError(t, err)
	for _, stmt := range schemaStatements(c) {
		if strings.HasPrefix(stmt, "CREATE") && !strings.Contains(stmt, tables(c).Operations) && !strings.Contains(stmt, tables(c).Schema) {
			_, err := db.ExecContext(ctx, stmt)
			require.NoError(t, err)
		}
	}
	v01 := strings.Replace(previousOperationsDDL, "  projected     BOOLEAN        NOT NULL DEFAULT FALSE,\n", "", 1)
	_, err = db.ExecContext(ctx, strings.Replace(v01, "%s", prefix, 1))
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "INSERT INTO `"+prefix+"operations` (apply_id, id, seq, deployment, op_group,"+
		" finalizer, state, on_failure, error_message, payload, version) VALUES ('a', 'op', 1, '', '', 0, 'running', '', '', '', 3)")
	require.NoError(t, err)
}

// The DBA path: v0.1.0's tables are refused by Check (storage.ErrSchema,
// run Migrate); SchemaFrom(1)'s DDL, applied by hand, brings them to this
// release (Check passes, the old row reads with the new fields zero and
// takes them); Schema's DDL on an empty database makes tables Check
// accepts.
func TestDBAPathFromV010(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newFixture(t).db
	prefix := testenv.TablePrefix()
	v01Tables(t, db, prefix)
	s, err := New(db, WithTablePrefix(prefix))
	require.NoError(t, err)
	err = s.Check(ctx)
	require.ErrorIs(t, err, storage.ErrSchema)
	require.ErrorContains(t, err, "run Migrate")

	script, err := SchemaFrom(1, WithTablePrefix(prefix))
	require.NoError(t, err)
	require.Contains(t, script, "ALTER TABLE `"+prefix+"operations` ADD COLUMN owner ")
	sqltest.Apply(t, exec(db), script)
	require.NoError(t, s.Check(ctx))
	op, err := s.GetOperation(ctx, "a", "op")
	require.NoError(t, err)
	require.Equal(t, storage.Operation{ApplyID: "a", ID: "op", Seq: 1, State: "running", Version: 3}, op)
	op.Owner, op.OwnerToken, op.Projected = "loop", 1, true
	_, err = s.UpdateOperation(ctx, op, 3)
	require.NoError(t, err)

	fresh := testenv.TablePrefix()
	t.Cleanup(func() {
		_, _ = db.ExecContext(context.Background(), "DROP TABLE IF EXISTS `"+fresh+"batches`, `"+fresh+"members`, `"+
			fresh+"applies`, `"+fresh+"operations`, `"+fresh+"schema`")
	})
	script, err = Schema(WithTablePrefix(fresh))
	require.NoError(t, err)
	sqltest.Apply(t, exec(db), script)
	s, err = New(db, WithTablePrefix(fresh))
	require.NoError(t, err)
	require.NoError(t, s.Check(ctx))
	_, err = SchemaFrom(3)
	require.ErrorIs(t, err, storage.ErrInvalid)
}

// Check reads the stored schema version: a missing row (a Migrate that did
// not finish), an older or a later version are storage.ErrSchema; Migrate
// refuses a later release's tables and restores the others.
func TestCheckReadsTheSchemaVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	sqltest.CheckReadsTheSchemaVersion(t, sqltest.Tables{Schema: f.table("schema"), Exec: exec(f.db),
		Check:   func() error { return f.store.Check(ctx) },
		Migrate: func() error { return Migrate(ctx, f.db, WithTablePrefix(f.prefix)) }})
}

// Tables of a pre-release build of this release lack projected_version:
// Check refuses them, Migrate adds it.
func TestMigrateAddsProjectedVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	sqltest.MigrateAddsProjectedVersion(t, ctx, sqltest.Tables{Schema: f.table("schema"), Exec: exec(f.db),
		Check:   func() error { return f.store.Check(ctx) },
		Migrate: func() error { return Migrate(ctx, f.db, WithTablePrefix(f.prefix)) }}, f.store, f.table("operations"))
}

// exec runs statements on db.
func exec(db *sql.DB) func(string) error {
	return func(stmt string) error {
		_, err := db.ExecContext(context.Background(), stmt)
		return err
	}
}

// schema.sql records the version this release's code requires.
func TestSchemaSQLRecordsSchemaVersion(t *testing.T) {
	t.Parallel()
	require.Contains(t, schemaSQL, fmt.Sprintf("VALUES (1, %d)", SchemaVersion))
}
