package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/storage"
)

// designDoc is the design document holding the classification tables.
const designDoc = "../../docs/design.md"

// matrix is what every store method answers on PostgreSQL when each
// failure kind happens below the store (see netfault.Matrix), as the
// table in docs/design.md says.
var matrix = netfault.Matrix{
	"refused connection":                         {"U", "U, not written", "U, not written", "U, not written", "U, not written"},
	"dial timeout":                               {"U", "U, not written", "U, not written", "U, not written", "U, not written"},
	"reset before the request was sent":          {"U", "A+U, not written", "A+U, not written", "A+U, not written", "A+U, not written"},
	"response lost after the write applied":      {"U", "A+U, written", "A+U, written", "A+U, written", "A+U, written"},
	"damaged response":                           {"n/a", "n/a", "n/a", "n/a", "n/a"},
	"server error, rolled back":                  {"U", "U, not written", "U, not written", "U, not written", "U, not written"},
	"server lock timeout":                        {"U", "U, not written", "U, not written", "U, not written", "U, not written"},
	"server statement timeout":                   {"U", "U, not written", "U, not written", "U, not written", "U, not written"},
	"throttled on every attempt":                 {"n/a", "n/a", "n/a", "n/a", "n/a"},
	"throttled, then served":                     {"n/a", "n/a", "n/a", "n/a", "n/a"},
	"non-retryable error after a landed attempt": {"n/a", "n/a", "n/a", "n/a", "n/a"},
	"transport's own timeout":                    {"n/a", "n/a", "n/a", "n/a", "n/a"},
	"caller's context ended before sending":      {"ctx", "ctx, not written", "ctx, not written", "ctx, not written", "ctx, not written"},
	"caller's context ended in flight":           {"ctx", "A+ctx, either", "A+ctx, either", "A+ctx, either", "A+ctx, either"},
}

// TestClassification runs every failure kind that can happen below a
// PostgreSQL store against every store method and checks each answer, and
// whether the write landed, against the documented matrix; the test logs
// one line for make test.
func TestClassification(t *testing.T) {
	f := newFixture(t)
	bg := context.Background()
	// via returns a store on f's tables over a new pool whose connections
	// go to addr (through p, started here, when p is not nil), each
	// statement sent in one message so that the proxy can pick it out.
	via := func(t *testing.T, p *netfault.Proxy, tweak func(*pgxpool.Config)) storage.Store {
		cfg, err := pgxpool.ParseConfig(server.dsn)
		require.NoError(t, err)
		p.Target, p.ReplyDone = net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))), readyForQuery
		require.NoError(t, p.Start())
		t.Cleanup(func() { _ = p.Close() })
		host, port, err := net.SplitHostPort(p.Addr())
		require.NoError(t, err)
		n, err := strconv.Atoi(port)
		require.NoError(t, err)
		cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(n)
		cfg.ConnConfig.ConnectTimeout = 2 * time.Second
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
		if tweak != nil {
			tweak(cfg)
		}
		pool, err := pgxpool.NewWithConfig(bg, cfg)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		s, err := New(pool, WithTablePrefix(f.prefix))
		require.NoError(t, err)
		return s
	}
	on := func(t *testing.T, c netfault.Call, kind netfault.Kind, stall time.Duration) storage.Store {
		decide, armed := netfault.OnStatement(c.Statement, kind)
		armed.Store(true)
		return via(t, &netfault.Proxy{DecideChunk: decide, StallFor: stall}, nil)
	}
	// locked holds every table of f in ACCESS EXCLUSIVE mode in a
	// transaction of another connection until the returned release.
	locked := func(t *testing.T) func() {
		tx, err := f.pool.Begin(bg)
		require.NoError(t, err)
		_, err = tx.Exec(bg, "LOCK TABLE "+f.table("batches")+", "+f.table("members")+", "+f.table("applies")+", "+
			f.table("operations")+" IN ACCESS EXCLUSIVE MODE")
		require.NoError(t, err)
		var once sync.Once
		release := func() { once.Do(func() { require.NoError(t, tx.Rollback(bg)) }) }
		t.Cleanup(release)
		return release
	}
	params := func(kv ...string) func(*pgxpool.Config) {
		return func(cfg *pgxpool.Config) {
			for i := 0; i+1 < len(kv); i += 2 {
				cfg.ConnConfig.RuntimeParams[kv[i]] = kv[i+1]
			}
		}
	}
	held := 600 * time.Millisecond
	faults := []netfault.Fault{
		{Kind: "refused connection", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			p := &netfault.Proxy{}
			s := via(t, p, nil)
			require.NoError(t, p.Refusing(true))
			return s, bg, nil
		}},
		{Kind: "dial timeout", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			addr, closeFn, err := netfault.Blackhole()
			require.NoError(t, err)
			t.Cleanup(closeFn)
			host, port, err := net.SplitHostPort(addr)
			require.NoError(t, err)
			n, err := strconv.Atoi(port)
			require.NoError(t, err)
			return via(t, &netfault.Proxy{}, func(cfg *pgxpool.Config) {
				cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.ConnectTimeout = host, uint16(n), 100*time.Millisecond
			}), bg, nil
		}},
		{Kind: "reset before the request was sent", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return on(t, c, netfault.Reset, 0), bg, nil
		}},
		{Kind: "response lost after the write applied", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return on(t, c, netfault.Cut, 0), bg, nil
		}},
		{Kind: "server error, rolled back", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			// An administrator terminates the backend while its statement
			// waits behind the lock: 57P01, the statement rolled back.
			s := via(t, &netfault.Proxy{}, nil)
			release := locked(t)
			done := make(chan error, 1)
			go func() {
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					var ok bool
					err := f.pool.QueryRow(bg, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"+
						" WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'", f.prefix).Scan(&ok)
					if err == nil {
						done <- nil
						return
					}
				}
				done <- fmt.Errorf("no statement waited behind the lock")
			}()
			return s, bg, func() {
				require.NoError(t, <-done)
				release()
			}
		}},
		{Kind: "server lock timeout", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return via(t, &netfault.Proxy{}, params("lock_timeout", "200")), bg, locked(t)
		}},
		{Kind: "server statement timeout", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return via(t, &netfault.Proxy{}, params("statement_timeout", "200")), bg, locked(t)
		}},
		{Kind: "caller's context ended before sending", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			ctx, cancel := context.WithCancel(bg)
			cancel()
			return via(t, &netfault.Proxy{}, nil), ctx, nil
		}},
		{Kind: "caller's context ended in flight", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			s := on(t, c, netfault.Stall, held)
			ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
			t.Cleanup(cancel)
			return s, ctx, func() { time.Sleep(held) }
		}},
	}
	netfault.Classification(t, "postgres", designDoc, f.store, matrix, faults)
}
