package postgres

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
)

// proxied returns a store on f's tables whose pool connects through a
// loopback TCP proxy deciding faults with decide.
func proxied(t *testing.T, f fixture, decide func() netfault.Kind) (*Store, *netfault.Proxy) {
	t.Helper()
	p := &netfault.Proxy{Decide: decide, StallFor: 20 * time.Millisecond}
	return proxiedBy(t, f, p), p
}

// proxiedBy returns a store on f's tables whose pool connects through p
// (started here).
func proxiedBy(t *testing.T, f fixture, p *netfault.Proxy) *Store {
	t.Helper()
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
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s, err := New(pool, WithTablePrefix(f.prefix))
	require.NoError(t, err)
	return s
}

// readyForQuery reports whether a PostgreSQL reply holds a ReadyForQuery
// message: the server finished the statement (and its implicit commit).
func readyForQuery(reply []byte) bool {
	for len(reply) >= 5 {
		n := int(reply[1])<<24 | int(reply[2])<<16 | int(reply[3])<<8 | int(reply[4])
		if reply[0] == 'Z' {
			return true
		}
		if n < 4 || len(reply) < 1+n {
			return false
		}
		reply = reply[1+n:]
	}
	return false
}

// A connection cut after the statement ran, its reply lost: the write's
// error matches ErrAmbiguous (and ErrUnavailable), never a conflict or a
// success; the next call works on a new connection.
func TestCutAfterAStatementIsAmbiguous(t *testing.T) {
	t.Parallel()
	var on atomic.Bool
	s, p := proxied(t, newFixture(t), func() netfault.Kind {
		if on.Swap(false) {
			return netfault.Cut
		}
		return ""
	})
	netfault.CutUpdate(t, s, p, func() { on.Store(true) }, false)
}

// A compare-and-swap whose UPDATE changed nothing and whose read-back
// (conflict or missing?) lost its connection: the write surely did not
// land, so the error matches ErrUnavailable, neither ErrAmbiguous nor
// ErrConflict. A fresh connection prepares the read-back: its text is sent.
func TestCutReadBackIsUnavailable(t *testing.T) {
	t.Parallel()
	decide, on := netfault.CutStatement("SELECT version, state FROM")
	p := &netfault.Proxy{DecideChunk: decide}
	netfault.CutUpdate(t, proxiedBy(t, newFixture(t), p), p, func() { on.Store(true) }, true)
}

// The explorer's scenarios with the actors' statements going through the
// proxy, which cuts connections after a statement ran (the reply lost),
// stalls and resets them at random. The invariants hold; the test logs
// one line for make test.
func TestNetworkFaults(t *testing.T) {
	f := newFixture(t)
	s, p := proxied(t, f, netfault.Random(5, 9,
		netfault.Odds{Kind: netfault.Cut, Chance: 0.04}, netfault.Odds{Kind: netfault.Stall, Chance: 0.03}))
	counts := netfault.Explore(t, "postgres", f.store, s, p.Counts, 45*time.Second)
	require.Positive(t, counts[netfault.Cut], "connections were cut after a statement")
}

// A write whose context ends while the proxy holds its statement may
// still be sent and land: its error matches ErrAmbiguous (and the
// context's), not a plain context error.
func TestCanceledWriteIsAmbiguous(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	decide, on := netfault.StallStatement("UPDATE")
	p := &netfault.Proxy{DecideChunk: decide, StallFor: 300 * time.Millisecond}
	s := proxiedBy(t, f, p)
	landed := netfault.CanceledWrite(t, s, f.store, func() { on.Store(true) }, p.StallFor)
	t.Logf("the held UPDATE landed after its caller gave up: %v", landed)
}

// A history of concurrent calls through the proxy's cuts, stalls and
// resets (a request dropped before it reached the server, every
// connection closed) is linearizable; the test logs one line for make
// test.
func TestLinearizable(t *testing.T) {
	f := newFixture(t)
	s, p := proxied(t, f, netfault.Random(13, 17,
		netfault.Odds{Kind: netfault.Cut, Chance: 0.05}, netfault.Odds{Kind: netfault.Stall, Chance: 0.03},
		netfault.Odds{Kind: netfault.Reset, Chance: 0.01}))
	netfault.Linearizable(t, "postgres", s, p.Counts)
}

// Every connection reset at once (a failover) is survived by the next
// call; refused connections make reads and writes ErrUnavailable, a write
// whose connection was refused not ambiguous (nothing was sent), and
// nothing is written.
func TestResetAndRefusedConnections(t *testing.T) {
	t.Parallel()
	s, p := proxied(t, newFixture(t), nil)
	netfault.RefusedAndReset(t, s, p)
}
