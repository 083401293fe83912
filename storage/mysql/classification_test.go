package mysql

import (
	"context"
	"fmt"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/storage"
)

// designDoc is the design document holding the classification tables.
const designDoc = "../../docs/design.md"

// matrix is what every store method answers on MySQL / MariaDB when each
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
	"transport's own timeout":                    {"U", "A+U, written", "A+U, written", "A+U, written", "A+U, written"},
	"caller's context ended before sending":      {"ctx", "ctx, not written", "ctx, not written", "ctx, not written", "ctx, not written"},
	"caller's context ended in flight":           {"ctx", "A+ctx, either", "A+ctx, either", "A+ctx, either", "A+ctx, either"},
}

// TestClassification runs every failure kind that can happen below a
// MySQL / MariaDB store against every store method and checks each answer,
// and whether the write landed, against the documented matrix; the test
// logs one line for make test.
func TestClassification(t *testing.T) {
	f := newFixture(t)
	needMariaDB(t, f, "the matrix's server timeouts are MariaDB's")
	bg := context.Background()
	// via returns a store on f's tables over a new pool whose connections
	// go through p (started here), statements sent as text so that the
	// proxy can pick one out.
	via := func(t *testing.T, p *netfault.Proxy, tweak func(*gomysql.Config)) storage.Store {
		return proxiedBy(t, f, p, func(c *gomysql.Config) {
			c.InterpolateParams = true
			if tweak != nil {
				tweak(c)
			}
		})
	}
	on := func(t *testing.T, c netfault.Call, kind netfault.Kind, stall time.Duration, tweak func(*gomysql.Config)) storage.Store {
		decide, armed := netfault.OnStatement(c.Statement, kind)
		armed.Store(true)
		return via(t, &netfault.Proxy{DecideChunk: decide, StallFor: stall}, tweak)
	}
	// locked holds every table of f under a write lock on another
	// connection until the returned release.
	locked := func(t *testing.T) func() {
		conn, err := f.db.Conn(bg)
		require.NoError(t, err)
		_, err = conn.ExecContext(bg, "LOCK TABLES "+f.table("batches")+" WRITE, "+f.table("members")+" WRITE, "+
			f.table("applies")+" WRITE, "+f.table("operations")+" WRITE")
		require.NoError(t, err)
		released := false
		release := func() {
			if !released {
				released = true
				_, err := conn.ExecContext(bg, "UNLOCK TABLES")
				require.NoError(t, err)
				require.NoError(t, conn.Close())
			}
		}
		t.Cleanup(release)
		return release
	}
	withParams := func(params map[string]string) func(*gomysql.Config) {
		return func(c *gomysql.Config) { c.Params = params }
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
			db := openDB(t, func(cfg *gomysql.Config) { cfg.Net, cfg.Addr, cfg.Timeout = "tcp", addr, 100*time.Millisecond })
			s, err := New(db, WithTablePrefix(f.prefix))
			require.NoError(t, err)
			return s, bg, nil
		}},
		{Kind: "reset before the request was sent", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return on(t, c, netfault.Reset, 0, nil), bg, nil
		}},
		{Kind: "response lost after the write applied", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return on(t, c, netfault.Cut, 0, nil), bg, nil
		}},
		{Kind: "server error, rolled back", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			// An administrator kills the statement while it waits behind
			// the lock: error 1317, the statement rolled back.
			s := via(t, &netfault.Proxy{}, nil)
			release := locked(t)
			done := make(chan error, 1)
			go func() {
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					var id int64
					err := f.db.QueryRowContext(bg, "SELECT ID FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for table metadata lock' AND INFO LIKE ?",
						"%"+f.prefix+"%").Scan(&id)
					if err == nil {
						_, err = f.db.ExecContext(bg, fmt.Sprintf("KILL QUERY %d", id))
						done <- err
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
			s := via(t, &netfault.Proxy{}, withParams(map[string]string{"lock_wait_timeout": "1", "innodb_lock_wait_timeout": "1"}))
			return s, bg, locked(t)
		}},
		{Kind: "server statement timeout", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			s := via(t, &netfault.Proxy{}, withParams(map[string]string{"max_statement_time": "0.2"}))
			return s, bg, locked(t)
		}},
		{Kind: "transport's own timeout", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			// The driver's read timeout ends the call while the proxy holds
			// the statement; the statement is sent afterwards.
			s := on(t, c, netfault.Stall, held, func(cfg *gomysql.Config) { cfg.ReadTimeout = 200 * time.Millisecond })
			return s, bg, func() { time.Sleep(held) }
		}},
		{Kind: "caller's context ended before sending", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			ctx, cancel := context.WithCancel(bg)
			cancel()
			return via(t, &netfault.Proxy{}, nil), ctx, nil
		}},
		{Kind: "caller's context ended in flight", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			s := on(t, c, netfault.Stall, held, nil)
			ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
			t.Cleanup(cancel)
			return s, ctx, func() { time.Sleep(held) }
		}},
	}
	netfault.Classification(t, "mysql", designDoc, f.store, matrix, faults)
}
