package postgres

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/testenv"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore/sqltest"
)

// Check passes on migrated tables; missing tables, a missing column, a
// missing version row, an older or a later version are storage.ErrSchema
// naming Migrate; Migrate refuses a later release's tables and restores
// the others.
func TestCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	require.NoError(t, f.store.Check(ctx))

	missing, err := New(f.pool, WithTablePrefix(f.prefix+"nothing_"))
	require.NoError(t, err)
	err = missing.Check(ctx)
	require.ErrorIs(t, err, storage.ErrSchema)
	require.ErrorContains(t, err, "run Migrate")

	sqltest.CheckReadsTheSchemaVersion(t, sqltest.Tables{Schema: f.table("schema"), Exec: exec(f.pool),
		Check:   func() error { return f.store.Check(ctx) },
		Migrate: func() error { return Migrate(ctx, f.pool, WithTablePrefix(f.prefix)) }})

	_, err = f.pool.Exec(ctx, "ALTER TABLE "+f.table("operations")+" DROP COLUMN released_at")
	require.NoError(t, err)
	err = f.store.Check(ctx)
	require.ErrorIs(t, err, storage.ErrSchema)
	require.ErrorContains(t, err, "released_at")
	require.NoError(t, Migrate(ctx, f.pool, WithTablePrefix(f.prefix)))
	require.NoError(t, f.store.Check(ctx))
}

// Tables of a pre-release build of this release lack projected_version:
// Check refuses them, Migrate adds it.
func TestMigrateAddsProjectedVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	sqltest.MigrateAddsProjectedVersion(t, ctx, sqltest.Tables{Schema: f.table("schema"), Exec: exec(f.pool),
		Check:   func() error { return f.store.Check(ctx) },
		Migrate: func() error { return Migrate(ctx, f.pool, WithTablePrefix(f.prefix)) }}, f.store, f.table("operations"))
}

// The DBA path: Schema's DDL, applied statement by statement on an empty
// database, makes tables Check accepts; applied again it changes nothing.
func TestDBAPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newFixture(t).pool
	prefix := testenv.TablePrefix()
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DROP TABLE IF EXISTS "`+prefix+`batches", "`+prefix+`members", "`+prefix+`applies", "`+prefix+`operations", "`+prefix+`schema"`)
	})
	s, err := New(pool, WithTablePrefix(prefix))
	require.NoError(t, err)
	require.ErrorIs(t, s.Check(ctx), storage.ErrSchema)
	script, err := Schema(WithTablePrefix(prefix))
	require.NoError(t, err)
	for range 2 {
		sqltest.Apply(t, exec(pool), script)
		require.NoError(t, s.Check(ctx))
	}
	require.Contains(t, schemaSQL, fmt.Sprintf("VALUES (1, %d)", SchemaVersion))
}

// exec runs statements on db.
func exec(db DB) func(string) error {
	return func(stmt string) error {
		_, err := db.Exec(context.Background(), stmt)
		return err
	}
}

// The package doc states the defaults the code has.
func TestDocStatesTheDefaults(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	sqltest.DocStatesTheDefaults(t, string(doc), DefaultChunkSize, DefaultChunkConcurrency)
}
