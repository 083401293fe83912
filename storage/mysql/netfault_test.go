package mysql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// proxied returns a store on f's tables whose connections go through a
// loopback TCP proxy deciding faults with decide.
func proxied(t *testing.T, f fixture, decide func() netfault.Kind) (*Store, *netfault.Proxy) {
	t.Helper()
	server.once.Do(resolveServer)
	p := &netfault.Proxy{Target: server.cfg.Addr, Decide: decide, StallFor: 20 * time.Millisecond}
	require.NoError(t, p.Start())
	t.Cleanup(func() { _ = p.Close() })
	// Timeouts, as a service sets them: a connection that hangs is an
	// error, not a stuck caller.
	db := openDB(t, func(c *gomysql.Config) {
		c.Net, c.Addr = "tcp", p.Addr()
		c.Timeout, c.ReadTimeout, c.WriteTimeout = time.Second, time.Second, time.Second
	})
	s, err := New(db, WithTablePrefix(f.prefix))
	require.NoError(t, err)
	return s, p
}

// armed returns a Decide that injects kind into the next chunk once armed.
func armed(kind netfault.Kind) (func() netfault.Kind, *atomic.Bool) {
	var on atomic.Bool
	return func() netfault.Kind {
		if on.Swap(false) {
			return kind
		}
		return ""
	}, &on
}

// A connection cut after the statement was forwarded, before its reply:
// the write may have run, so the error matches ErrAmbiguous (and
// ErrUnavailable), never a conflict or a success; the next call works on a
// new connection.
func TestCutAfterAStatementIsAmbiguous(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	decide, on := armed(netfault.Cut)
	s, p := proxied(t, f, decide)
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

// Refused connections make reads ErrUnavailable (not ambiguous); every
// connection reset at once (a failover) is survived by the next call.
func TestRefusedAndResetConnections(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	s, p := proxied(t, f, nil)
	_, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
	require.NoError(t, err)
	p.ResetAll()
	p.Refusing(true)
	_, err = s.GetBatch(ctx, "q", "b")
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.NotErrorIs(t, err, storage.ErrAmbiguous)
	p.Refusing(false)
	_, err = s.GetBatch(ctx, "q", "b")
	require.NoError(t, err, "the server is back")
	require.Positive(t, p.Counts()[netfault.Refuse])
}

// The explorer's scenarios with the actors' statements going through the
// proxy, which cuts connections after a statement, stalls and resets them
// at random. Setup and checks read the tables directly. The invariants
// hold; the test logs one line for make test.
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
		case r < 0.075:
			return netfault.Reset
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
	t.Logf("network faults on mysql: %d injected (%s), %d violations, %d schedules", total, kinds, violations, schedules)
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
	t.Logf("linearizable on mysql: %d operations, %d faults, %s (%d possibly applied, %d failed reads left out)",
		res.Operations, faults, verdict, res.Ambiguous, res.Dropped)
	require.True(t, res.Linearizable, "%+v", res)
	require.Positive(t, faults, "faults were injected")
}
