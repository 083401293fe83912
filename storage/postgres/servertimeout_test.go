package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/storage"
)

// timedPool returns a pool on the shared server whose connections set the
// run-time parameters params, with tweak (if any) applied to its config.
func timedPool(t *testing.T, params map[string]string, tweak func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(server.dsn)
	require.NoError(t, err)
	for k, v := range params {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	if tweak != nil {
		tweak(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// lockTables returns a block for netfault.ServerTimeouts: a transaction of
// another connection takes f's batches and members tables in ACCESS
// EXCLUSIVE mode, so that every statement on them waits, until release.
func lockTables(t *testing.T, f fixture) func() func() {
	return func() func() {
		ctx := context.Background()
		tx, err := f.pool.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "LOCK TABLE "+f.table("batches")+", "+f.table("members")+" IN ACCESS EXCLUSIVE MODE")
		require.NoError(t, err)
		var once sync.Once
		release := func() { once.Do(func() { require.NoError(t, tx.Rollback(ctx)) }) }
		t.Cleanup(release) // before the fixture drops the tables
		return release
	}
}

// isCode returns whether err holds a PostgreSQL error with SQLSTATE code.
func isCode(code string) func(error) bool {
	return func(err error) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == code
	}
}

// The server's own timeouts — lock_timeout (55P03) and statement_timeout
// (57014) — end a statement waiting behind a lock and roll it back: reads
// and writes are ErrUnavailable alone, never ambiguous, and nothing is
// written.
func TestServerTimeoutIsUnavailable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ param, code string }{{"lock_timeout", "55P03"}, {"statement_timeout", "57014"}} {
		t.Run(c.param, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s, err := New(timedPool(t, map[string]string{c.param: "200"}, nil), WithTablePrefix(f.prefix))
			require.NoError(t, err)
			netfault.ServerTimeouts(t, s, f.store, lockTables(t, f), isCode(c.code))
		})
	}
}

// 57014 is also the answer to a cancel request, which pgx sends when the
// caller's context ends (with a CancelRequestContextWatcherHandler): the
// caller's context decides, not the code. A write is then ErrAmbiguous
// with the context's error (it may have landed), never ErrUnavailable; a
// read the context's error alone.
func TestCanceledStatementIsTheCallersOwn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pool := timedPool(t, nil, func(cfg *pgxpool.Config) {
		cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
			return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 10 * time.Second}
		}
	})
	s, err := New(pool, WithTablePrefix(f.prefix))
	require.NoError(t, err)
	ctx := context.Background()
	b, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
	require.NoError(t, err)
	release := lockTables(t, f)()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	moved := b
	moved.State = "running"
	_, err = s.UpdateBatch(short, moved, 1, "queued")
	require.True(t, isCode("57014")(err), "the server canceled the statement: %v", err)
	require.ErrorIs(t, err, storage.ErrAmbiguous)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, storage.ErrUnavailable, "the caller's own limit")

	short, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = s.GetBatch(short, "q", "b")
	require.True(t, isCode("57014")(err), "the server canceled the statement: %v", err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, storage.ErrUnavailable, "the caller's own limit")
	require.NotErrorIs(t, err, storage.ErrAmbiguous, "a read")
	release()
	got, err := f.store.GetBatch(ctx, "q", "b")
	require.NoError(t, err)
	require.Equal(t, b, got, "the canceled UPDATE was rolled back")
}
