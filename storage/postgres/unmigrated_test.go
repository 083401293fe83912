package postgres

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/testenv"
)

// The first call on tables never migrated (a prefix with no tables) is
// storage.ErrSchema naming Migrate, with PostgreSQL's 42P01 reachable.
func TestFirstCallOnUnmigratedTables(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s, err := New(f.pool, WithTablePrefix(f.prefix+"nothing_"))
	require.NoError(t, err)
	testenv.FirstCallsAskForMigrate(t, s, func(err error) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && (pgErr.Code == undefinedTable || pgErr.Code == undefinedColumn)
	})
}
