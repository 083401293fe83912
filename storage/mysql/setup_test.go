package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/testenv"
)

// dsnEnv points the tests at a running MySQL 8 / MariaDB server.
const dsnEnv = "STATEFOLD_MYSQL_DSN"

// server is the backend every test of this package shares, resolved once:
// STATEFOLD_MYSQL_DSN, else a mysql:8 container when Docker is healthy.
var server struct {
	once   sync.Once
	cfg    *gomysql.Config // nil when unavailable
	reason string          // why the server is unavailable
	stop   func()          // removes the container, if one was started
}

func TestMain(m *testing.M) {
	testenv.ExamplesNeed(dsnEnv)
	// The driver logs every connection the fault tests cut; the tests
	// assert on the errors instead.
	_ = gomysql.SetLogger(log.New(io.Discard, "", 0))
	code := m.Run()
	if server.stop != nil {
		server.stop()
	}
	os.Exit(code)
}

func resolveServer() {
	ctx := context.Background()
	dsn, source := os.Getenv(dsnEnv), dsnEnv
	if dsn == "" {
		addr, stop, err := testenv.StartContainer(ctx, "mysql")
		if err != nil {
			server.reason = fmt.Sprintf("no MySQL server: set %s (for example root@tcp(127.0.0.1:3306)/test) or run a Docker engine for a mysql:8 container (%v)", dsnEnv, err)
			return
		}
		dsn, server.stop, source = addr, stop, "mysql:8 container"
	}
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		server.reason = fmt.Sprintf("%s is not a valid DSN: %v", source, err)
		return
	}
	if cfg.Timeout == 0 || cfg.Timeout > pingTimeout {
		cfg.Timeout = pingTimeout // fail fast when the address points nowhere
	}
	db, err := openConfig(cfg)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		err = db.PingContext(pctx)
		cancel()
		_ = db.Close()
	}
	if err != nil {
		server.reason = fmt.Sprintf("%s: cannot reach a MySQL server at %s %s as user %q (set %s to a reachable server): %v",
			source, cfg.Net, cfg.Addr, cfg.User, dsnEnv, err)
		return
	}
	server.cfg = cfg
}

// pingTimeout bounds how long the tests wait for an unreachable server
// before they skip (or fail, with STATEFOLD_REQUIRE_BACKENDS=1).
const pingTimeout = 5 * time.Second

// openConfig opens a pool from a driver config (not its DSN string, so that
// a Loc without a zoneinfo name survives).
func openConfig(cfg *gomysql.Config) (*sql.DB, error) {
	conn, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// openDB opens a pool on the shared server, with tweak applied to a copy of
// its DSN config; it ends the test (skip, or fail when backends are
// required) when there is no server.
func openDB(t testing.TB, tweak func(*gomysql.Config)) *sql.DB {
	t.Helper()
	server.once.Do(resolveServer)
	if server.cfg == nil {
		testenv.Unavailable(t, "%s", server.reason)
		return nil
	}
	cfg := server.cfg.Clone()
	if tweak != nil {
		tweak(cfg)
	}
	db, err := openConfig(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// fixture is a migrated Store on tables with a per-test unique prefix that
// are dropped when the test ends.
type fixture struct {
	store  *Store
	db     *sql.DB
	prefix string
}

func (f fixture) table(name string) string { return "`" + f.prefix + name + "`" }

func newFixture(t testing.TB, opts ...Option) fixture {
	t.Helper()
	return newFixtureOn(t, openDB(t, nil), opts...)
}

// newFixtureOn is newFixture on a given pool.
func newFixtureOn(t testing.TB, db *sql.DB, opts ...Option) fixture {
	t.Helper()
	prefix := testenv.TablePrefix()
	opts = append([]Option{WithTablePrefix(prefix)}, opts...)
	require.NoError(t, Migrate(context.Background(), db, opts...))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS `"+prefix+"batches`, `"+prefix+"members`, `"+
			prefix+"applies`, `"+prefix+"operations`, `"+prefix+"schema`")
		if err == nil {
			_, err = db.ExecContext(ctx, "DROP PROCEDURE IF EXISTS `"+prefix+procedureSuffix+"`")
		}
		if err != nil {
			t.Errorf("drop test tables %s*: %v", prefix, err)
		}
	})
	store, err := New(db, opts...)
	require.NoError(t, err)
	return fixture{store: store, db: db, prefix: prefix}
}
