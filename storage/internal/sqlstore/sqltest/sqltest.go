// Package sqltest holds the checks the MySQL and PostgreSQL tests share.
package sqltest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore"
)

// Tables is how a test reaches one store's migrated tables.
type Tables struct {
	// Schema is the quoted name of the schema version table.
	Schema string
	// Exec runs a statement.
	Exec func(stmt string) error
	// Check is the store's Check, Migrate the backend's Migrate.
	Check, Migrate func() error
}

// CheckReadsTheSchemaVersion checks that Check refuses a missing version
// row, an older and a later version with storage.ErrSchema naming
// Migrate, that Migrate refuses a later release's tables and restores the
// others.
func CheckReadsTheSchemaVersion(t *testing.T, tb Tables) {
	for _, c := range []struct{ stmt, says string }{
		{"DELETE FROM %s", "no schema version"},
		{"UPDATE %s SET version = 1", "older than this release's 2"},
		{"UPDATE %s SET version = 3", "a later release's"},
	} {
		require.NoError(t, tb.Exec(fmt.Sprintf(c.stmt, tb.Schema)))
		err := tb.Check()
		require.ErrorIs(t, err, storage.ErrSchema, c.stmt)
		require.ErrorContains(t, err, c.says)
		require.ErrorContains(t, err, "Migrate")
		if strings.Contains(c.stmt, "3") {
			require.ErrorIs(t, tb.Migrate(), storage.ErrSchema)
			require.NoError(t, tb.Exec("UPDATE "+tb.Schema+" SET version = 2"))
		}
		require.NoError(t, tb.Migrate())
		require.NoError(t, tb.Check())
	}
}

// MigrateAddsProjectedVersion checks tables of a pre-release build of
// schema version 2 — an operations table without projected_version, an
// acknowledged row in it: Check refuses them with storage.ErrSchema naming
// the column, Migrate adds it, and the row reads with ProjectedVersion 0
// (unacknowledged) and takes it. ops is the store over tb, operations
// the quoted name of its operations table.
func MigrateAddsProjectedVersion(t *testing.T, ctx context.Context, tb Tables, ops storage.OperationStore, operations string) {
	op, err := ops.CreateOperation(ctx, storage.Operation{ApplyID: "a", ID: "acked", State: "running", Projected: true, ProjectedVersion: 1})
	require.NoError(t, err)
	require.NoError(t, tb.Exec("ALTER TABLE "+operations+" DROP COLUMN projected_version"))
	err = tb.Check()
	require.ErrorIs(t, err, storage.ErrSchema)
	require.ErrorContains(t, err, "projected_version")
	require.ErrorContains(t, err, "run Migrate")
	require.NoError(t, tb.Migrate())
	require.NoError(t, tb.Check())
	got, err := ops.GetOperation(ctx, "a", "acked")
	require.NoError(t, err)
	op.ProjectedVersion = 0
	require.Equal(t, op, got, "a row written before the column reads it 0")
	op.ProjectedVersion = 2
	_, err = ops.UpdateOperation(ctx, op, 1)
	require.NoError(t, err)
	got, err = ops.GetOperation(ctx, "a", "acked")
	require.NoError(t, err)
	require.Equal(t, int64(2), got.ProjectedVersion)
}

// Apply runs a script of Schema's statements one by one, as a DBA's tool
// would.
func Apply(t *testing.T, exec func(stmt string) error, script string) {
	for _, stmt := range sqlstore.Split(script) {
		require.NoError(t, exec(stmt), stmt)
	}
}

// DocStatesTheDefaults checks that a package doc (the file's text) states
// the chunk defaults the code has.
func DocStatesTheDefaults(t *testing.T, doc string, chunkSize, concurrency int) {
	doc = strings.ReplaceAll(doc, "\n//", "")
	require.Contains(t, doc, fmt.Sprintf("(default %d)", chunkSize))
	require.Contains(t, doc, fmt.Sprintf("(default %d)", concurrency))
}
