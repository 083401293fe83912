package mysql

import (
	"errors"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/testenv"
)

// The first call on tables never migrated (a prefix with no tables) is
// storage.ErrSchema naming Migrate, with MySQL's 1146 reachable.
func TestFirstCallOnUnmigratedTables(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s, err := New(f.db, WithTablePrefix(f.prefix+"nothing_"))
	require.NoError(t, err)
	testenv.FirstCallsAskForMigrate(t, s, func(err error) bool {
		var me *gomysql.MySQLError
		return errors.As(err, &me) && (me.Number == erNoSuchTable || me.Number == erBadFieldError)
	})
}
