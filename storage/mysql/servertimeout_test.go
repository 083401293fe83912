package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/internal/testenv"
)

// MariaDB's max_statement_time ends a statement that waits too long (here
// behind table locks another connection holds) with error 1969 and rolls
// it back: reads and writes are ErrUnavailable alone, never ambiguous, and
// nothing is written.
func TestServerTimeoutIsUnavailable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	needMariaDB(t, f, "max_statement_time is MariaDB's; MySQL's max_execution_time (3024) is covered by TestWriteErrorClassification")
	db := openDB(t, func(c *gomysql.Config) {
		c.Params = map[string]string{"max_statement_time": "0.2"}
	})
	s, err := New(db, WithTablePrefix(f.prefix))
	require.NoError(t, err)
	netfault.ServerTimeouts(t, s, f.store, func() func() {
		ctx := context.Background()
		conn, err := f.db.Conn(ctx)
		require.NoError(t, err)
		_, err = conn.ExecContext(ctx, "LOCK TABLES "+f.table("batches")+" WRITE, "+f.table("members")+" WRITE")
		require.NoError(t, err)
		return func() {
			_, err := conn.ExecContext(ctx, "UNLOCK TABLES")
			require.NoError(t, err)
			require.NoError(t, conn.Close())
		}
	}, func(err error) bool {
		var me *gomysql.MySQLError
		return errors.As(err, &me) && me.Number == erStatementTimeout
	})
}

// isMariaDB reports whether a server's VERSION() is MariaDB's.
func isMariaDB(version string) bool { return strings.Contains(strings.ToLower(version), "mariadb") }

// needMariaDB ends t, as an unavailable backend does (a skip, or a failure
// with STATEFOLD_REQUIRE_BACKENDS=1, as make test sets it), unless f's
// server is MariaDB: what the test checks is MariaDB's (why says what).
func needMariaDB(t *testing.T, f fixture, why string) {
	t.Helper()
	var version string
	require.NoError(t, f.db.QueryRowContext(context.Background(), "SELECT VERSION()").Scan(&version))
	if !isMariaDB(version) {
		testenv.Unavailable(t, "%s (server %s): point STATEFOLD_MYSQL_DSN at a MariaDB server", why, version)
	}
}
