package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// proxied returns a store on f's tables whose pool connects through a
// loopback TCP proxy deciding faults with decide.
func proxied(t *testing.T, f fixture, decide func() netfault.Kind) (*Store, *netfault.Proxy) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(server.dsn)
	require.NoError(t, err)
	p := &netfault.Proxy{Target: net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))), Decide: decide,
		StallFor: 20 * time.Millisecond, ReplyDone: readyForQuery}
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
	return s, p
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
	f := newFixture(t)
	ctx := context.Background()
	var on atomic.Bool
	s, p := proxied(t, f, func() netfault.Kind {
		if on.Swap(false) {
			return netfault.Cut
		}
		return ""
	})
	b, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
	require.NoError(t, err)
	on.Store(true)
	b.State = "running"
	_, err = s.UpdateBatch(ctx, b, 1, "queued")
	require.ErrorIs(t, err, storage.ErrAmbiguous)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.NotErrorIs(t, err, storage.ErrConflict)
	require.Equal(t, 1, p.Counts()[netfault.Cut])
	got, err := s.GetBatch(ctx, "q", "b")
	require.NoError(t, err, "the next call reconnects")
	require.Contains(t, []string{"queued", "running"}, got.State)
}

// The explorer's scenarios with the actors' statements going through the
// proxy, which cuts connections after a statement ran (the reply lost),
// stalls and resets them at random. The invariants hold; the test logs
// one line for make test.
func TestNetworkFaults(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(5, 9))
	s, p := proxied(t, f, func() netfault.Kind {
		mu.Lock()
		defer mu.Unlock()
		switch r := rng.Float64(); {
		case r < 0.04:
			return netfault.Cut
		case r < 0.07:
			return netfault.Stall
		}
		return ""
	})
	// Faults at random make a schedule's store calls differ from run to
	// run, so the search runs random schedules only.
	x := storagetest.Exploration{Random: 1000, Seed: 3, Parallel: 4, Budget: 45 * time.Second}
	if testing.Short() {
		x.Budget = 10 * time.Second
	}
	schedules, violations := storagetest.ExploreAllWith(t, f.store, s, x)
	counts := p.Counts()
	total, kinds := netfault.Summary(counts)
	t.Logf("network faults on postgres: %d injected (%s), %d violations, %d schedules", total, kinds, violations, schedules)
	require.Positive(t, counts[netfault.Cut], "connections were cut after a statement")
}

// A history of concurrent creates, reads, compare-and-swaps, member
// upserts, removals and listings through the faults is linearizable
// against the store contract (a write that failed after it may have been
// sent counts as possibly applied). The test logs one line for make test.
func TestLinearizable(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(13, 17))
	s, p := proxied(t, f, func() netfault.Kind {
		mu.Lock()
		defer mu.Unlock()
		switch r := rng.Float64(); {
		case r < 0.05:
			return netfault.Cut
		case r < 0.08:
			return netfault.Stall
		}
		return ""
	})
	counts := p.Counts
	res, err := storagetest.CheckLinearizable(context.Background(), s, storagetest.LinearizabilityConfig{Clients: 6, Operations: 80, Seed: 5})
	require.NoError(t, err)
	faults, _ := netfault.Summary(counts())
	verdict := "ok"
	if !res.Linearizable {
		verdict = fmt.Sprintf("NOT linearizable (check unknown: %v)", res.Unknown)
	}
	t.Logf("linearizable on postgres: %d operations, %d faults, %s (%d possibly applied, %d failed reads left out)",
		res.Operations, faults, verdict, res.Ambiguous, res.Dropped)
	require.True(t, res.Linearizable, "%+v", res)
	require.Positive(t, faults, "faults were injected")
}

// Every connection reset at once (a failover) is survived by the next
// call; refused connections make a read ErrUnavailable, not ambiguous.
func TestResetAndRefusedConnections(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	s, p := proxied(t, f, nil)
	_, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
	require.NoError(t, err)
	p.ResetAll()
	_, err = s.GetBatch(ctx, "q", "b")
	if err != nil { // the pool may hand out a connection the reset closed
		require.ErrorIs(t, err, storage.ErrUnavailable)
		_, err = s.GetBatch(ctx, "q", "b")
	}
	require.NoError(t, err, "the next call reconnects")
	p.Refusing(true)
	p.ResetAll()
	for range 3 { // a dead pooled connection first, then refused new ones
		_, err = s.GetBatch(ctx, "q", "b")
		require.ErrorIs(t, err, storage.ErrUnavailable)
		require.NotErrorIs(t, err, storage.ErrAmbiguous)
	}
	p.Refusing(false)
	require.Positive(t, p.Counts()[netfault.Refuse])
	require.Equal(t, 2, p.Counts()[netfault.Reset])
}
