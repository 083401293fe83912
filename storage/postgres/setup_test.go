package postgres

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/testenv"
)

// dsnEnv points the tests at a running PostgreSQL server.
const dsnEnv = "STATEFOLD_POSTGRES_DSN"

var _ DB = (*pgxpool.Pool)(nil)

// server is the backend every test of this package shares, resolved once:
// STATEFOLD_POSTGRES_DSN, else a postgres container when Docker is healthy.
var server struct {
	once   sync.Once
	dsn    string // empty when unavailable
	reason string
	stop   func()
}

func TestMain(m *testing.M) {
	testenv.ExamplesNeed(dsnEnv)
	code := m.Run()
	if server.stop != nil {
		server.stop()
	}
	os.Exit(code)
}

// pingTimeout bounds how long the tests wait for an unreachable server.
const pingTimeout = 5 * time.Second

func resolveServer() {
	ctx := context.Background()
	dsn, source := os.Getenv(dsnEnv), dsnEnv
	if dsn == "" {
		addr, stop, err := testenv.StartContainer(ctx, "postgres")
		if err != nil {
			server.reason = fmt.Sprintf("no PostgreSQL server: set %s (for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable) or run a Docker engine for a postgres container (%v)", dsnEnv, err)
			return
		}
		dsn, server.stop, source = addr, stop, "postgres container"
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	pool, err := pgxpool.New(pctx, dsn)
	if err == nil {
		err = pool.Ping(pctx)
		pool.Close()
	}
	if err != nil {
		server.reason = fmt.Sprintf("%s: cannot reach a PostgreSQL server (set %s to a reachable one): %v", source, dsnEnv, err)
		return
	}
	server.dsn = dsn
}

// openPool opens a pool on the shared server; it ends the test (skip, or
// fail when backends are required) when there is no server.
func openPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	server.once.Do(resolveServer)
	if server.dsn == "" {
		testenv.Unavailable(t, "%s", server.reason)
		return nil
	}
	pool, err := pgxpool.New(context.Background(), server.dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// fixture is a migrated Store on tables with a per-test unique prefix that
// are dropped when the test ends.
type fixture struct {
	store  *Store
	pool   *pgxpool.Pool
	prefix string
}

func (f fixture) table(name string) string { return `"` + f.prefix + name + `"` }

func newFixture(t testing.TB, opts ...Option) fixture {
	t.Helper()
	pool := openPool(t)
	prefix := testenv.TablePrefix()
	opts = append([]Option{WithTablePrefix(prefix)}, opts...)
	require.NoError(t, Migrate(context.Background(), pool, opts...))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+`"`+prefix+`batches", "`+prefix+`members", "`+prefix+`applies", "`+prefix+`operations", "`+prefix+`schema"`)
		if err != nil {
			t.Errorf("drop test tables %s*: %v", prefix, err)
		}
	})
	store, err := New(pool, opts...)
	require.NoError(t, err)
	return fixture{store: store, pool: pool, prefix: prefix}
}
