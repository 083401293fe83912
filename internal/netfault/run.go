package netfault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// Odds is the chance of one fault kind per decision.
type Odds struct {
	Kind   Kind
	Chance float64
}

// Random returns a decider, safe for concurrent use and seeded, that picks
// each kind of odds with its chance (the chances add up to at most 1) and
// "" otherwise.
func Random(seed1, seed2 uint64, odds ...Odds) func() Kind {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed1, seed2))
	return func() Kind {
		mu.Lock()
		r := rng.Float64()
		mu.Unlock()
		for _, o := range odds {
			if r < o.Chance {
				return o.Kind
			}
			r -= o.Chance
		}
		return ""
	}
}

// Explore runs every scenario of the explorer, within budget (10s under
// -short), and then every crash point of the contract suite, with the
// calls under test going to actors (a handle whose faults counts reports)
// while the setup and the checks read store, and logs the line make test
// prints: "network faults on <backend>: N injected (...), V violations, S
// schedules, C crash points", after the model check's generated scenarios
// (storagetest.CheckModelWith, within a third of the budget) through the same
// faults and its own line. Each violation fails t. It returns the counts.
func Explore(t *testing.T, backend string, store, actors storage.Store, counts func() map[Kind]int, budget time.Duration) map[Kind]int {
	t.Helper()
	// Faults at random make a schedule's store calls differ from run to
	// run, so the search runs random schedules only.
	x := storagetest.Exploration{Random: 1000, Seed: 3, Parallel: 4, Budget: budget}
	if testing.Short() {
		x.Budget = 10 * time.Second
	}
	schedules, violations := storagetest.ExploreAllWith(t, store, actors, x)
	crashes, failed := storagetest.CrashPointsWith(t, store, actors)
	// The generated scenarios of the model check, through the same faults.
	m := storagetest.RemoteModelCheck()
	m.Scenarios, m.Budget = m.Scenarios/3, budget/3
	if testing.Short() {
		m.Budget = 10 * time.Second
	}
	mcScenarios, mcSchedules, mcViolations := storagetest.CheckModelWith(t, store, actors, m)
	t.Logf("model check through network faults on %s: %d scenarios, %d schedules, %d violations", backend, mcScenarios, mcSchedules, mcViolations)
	require.Positive(t, mcScenarios, "scenarios ran")
	violations += mcViolations
	got := counts()
	total, kinds := Summary(got)
	t.Logf("network faults on %s: %d injected (%s), %d violations, %d schedules, %d crash points",
		backend, total, kinds, violations+failed, schedules, crashes)
	require.Positive(t, schedules, "schedules ran")
	require.Positive(t, crashes, "crash points were reached")
	require.Positive(t, total, "faults were injected")
	return got
}

// Linearizable records a history of concurrent creates, reads,
// compare-and-swaps, conditional deletes, member upserts, removals and
// listings on s (whose faults counts reports), checks it against the store contract (a write
// that failed ambiguously counts as possibly applied, one that failed
// unambiguously must not have landed),
// and logs the line make test prints: "linearizable on <backend>: N
// operations, F faults, ok". A history that is not linearizable, or one
// with no fault injected, fails t.
func Linearizable(t *testing.T, backend string, s storage.Store, counts func() map[Kind]int) {
	t.Helper()
	res, err := storagetest.CheckLinearizable(context.Background(), s, storagetest.LinearizabilityConfig{Clients: 6, Operations: 80, Seed: 5})
	require.NoError(t, err)
	faults, _ := Summary(counts())
	verdict := "ok"
	if !res.Linearizable {
		verdict = fmt.Sprintf("NOT linearizable (check unknown: %v)", res.Unknown)
	}
	t.Logf("linearizable on %s: %d operations, %d faults, %s (%d possibly applied, %d failed writes that did not land and %d failed reads left out)",
		backend, res.Operations, faults, verdict, res.Ambiguous, res.NotApplied, res.Dropped)
	require.True(t, res.Linearizable, "%+v", res)
	require.Positive(t, faults, "faults were injected")
}

// Unavailable requires err to be a write's failure that surely did not
// land: storage.ErrUnavailable, not storage.ErrAmbiguous.
func Unavailable(t require.TestingT, err error, msgAndArgs ...any) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	require.ErrorIs(t, err, storage.ErrUnavailable, msgAndArgs...)
	require.NotErrorIs(t, err, storage.ErrAmbiguous, msgAndArgs...)
}

// Ambiguous requires err to be a write's failure that may have landed
// after a lost answer: storage.ErrAmbiguous and storage.ErrUnavailable.
func Ambiguous(t require.TestingT, err error, msgAndArgs ...any) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	require.ErrorIs(t, err, storage.ErrAmbiguous, msgAndArgs...)
	require.ErrorIs(t, err, storage.ErrUnavailable, msgAndArgs...)
}

// armedMove creates batch q/b (queued) on s, calls arm, and returns the
// batch moved to running, for an UpdateBatch at version 1.
func armedMove(t *testing.T, s storage.Store, arm func()) storage.Batch {
	t.Helper()
	b, err := s.CreateBatch(context.Background(), storage.Batch{Queue: "q", ID: "b", State: "queued"})
	require.NoError(t, err)
	arm()
	b.State = "running"
	return b
}

// CutUpdate creates batch q/b on s, calls arm (which makes the proxy p
// cut the connection of the next statement it picks), updates the batch
// by compare-and-swap, and requires exactly one cut and the error a cut
// means there. At the stored version (stale false) the UPDATE itself was
// cut after it ran: ErrAmbiguous and ErrUnavailable. At a stale version
// the UPDATE changed nothing and the read-back telling a conflict from a
// missing row was cut: ErrUnavailable only. Never ErrConflict; the next
// call reconnects.
func CutUpdate(t *testing.T, s storage.Store, p *Proxy, arm func(), stale bool) {
	t.Helper()
	ctx := context.Background()
	b := armedMove(t, s, arm)
	v := int64(1)
	if stale {
		v = 7
	}
	_, err := s.UpdateBatch(ctx, b, v, "queued")
	if stale {
		Unavailable(t, err, "the UPDATE changed nothing")
	} else {
		Ambiguous(t, err)
	}
	require.NotErrorIs(t, err, storage.ErrConflict)
	require.Equal(t, 1, p.Counts()[Cut])
	got, err := s.GetBatch(ctx, "q", "b")
	require.NoError(t, err, "the next call reconnects")
	require.Contains(t, []string{"queued", "running"}, got.State)
}

// RefusedAndReset creates batch q/b on s (whose connections go through p),
// resets every connection at once (a failover) and requires the next calls
// to reconnect; then it makes p refuse new connections and requires every
// read and write to fail with ErrUnavailable — never ErrAmbiguous once the
// dial was refused (nothing was sent), which each call must reach within a
// few attempts (the first may get a pooled connection the reset closed) —
// and, the server back, the batch unchanged: nothing was written.
func RefusedAndReset(t *testing.T, s storage.Store, p *Proxy) {
	t.Helper()
	ctx := context.Background()
	b, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
	require.NoError(t, err)
	p.ResetAll()
	for i := 0; ; i++ { // the pool may hand out connections the reset closed
		require.Less(t, i, 4, "no call reconnected after the reset")
		if _, err = s.GetBatch(ctx, "q", "b"); err == nil {
			break
		}
		require.ErrorIs(t, err, storage.ErrUnavailable)
	}
	require.NoError(t, p.Refusing(true))
	p.ResetAll()
	moved := b
	moved.State = "running"
	calls := map[string]func() error{
		"read":   func() error { _, err := s.GetBatch(ctx, "q", "b"); return err },
		"update": func() error { _, err := s.UpdateBatch(ctx, moved, b.Version, "queued"); return err },
		"create": func() error {
			_, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "c", State: "queued"})
			return err
		},
	}
	for _, name := range []string{"read", "update", "create"} {
		for i := 0; ; i++ {
			require.Less(t, i, 4, "%s: no dial was refused", name)
			err := calls[name]()
			require.ErrorIs(t, err, storage.ErrUnavailable, name)
			require.NotErrorIs(t, err, storage.ErrConflict, name)
			if errors.Is(err, syscall.ECONNREFUSED) {
				Unavailable(t, err, "%s: a refused dial sent nothing", name)
				break
			}
		}
	}
	require.NoError(t, p.Refusing(false))
	got, err := s.GetBatch(ctx, "q", "b")
	require.NoError(t, err, "the server is back")
	require.Equal(t, "queued", got.State)
	require.Equal(t, b.Version, got.Version)
	_, err = s.GetBatch(ctx, "q", "c")
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.Equal(t, 1, p.Counts()[Refuse])
	require.Equal(t, 2, p.Counts()[Reset])
}

// CanceledWrite creates batch q/b on s, calls arm (which makes the next
// write slow: held below the store, then sent), and updates the batch by
// compare-and-swap under a context that ends while it is held. The store
// cannot tell whether the write was sent: the error matches ErrAmbiguous
// and the context's error — never ErrConflict, never success. After the
// hold, check (the tables read directly) tells whether it landed anyway,
// which is returned.
func CanceledWrite(t *testing.T, s, check storage.Store, arm func(), hold time.Duration) bool {
	t.Helper()
	ctx := context.Background()
	b := armedMove(t, s, arm)
	short, cancel := context.WithTimeout(ctx, hold/10)
	defer cancel()
	_, err := s.UpdateBatch(short, b, 1, "queued")
	require.ErrorIs(t, err, storage.ErrAmbiguous, "%v", err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, storage.ErrConflict)
	time.Sleep(2 * hold)
	got, err := check.GetBatch(ctx, "q", "b")
	require.NoError(t, err)
	return got.State == "running"
}

// CutStatement returns a DecideChunk for the proxy that cuts the first
// chunk holding text once the returned flag is set.
func CutStatement(text string) (func([]byte) Kind, *atomic.Bool) {
	return onStatement(text, Cut)
}

// StallStatement returns a DecideChunk for the proxy that stalls the first
// chunk holding text once the returned flag is set.
func StallStatement(text string) (func([]byte) Kind, *atomic.Bool) {
	return onStatement(text, Stall)
}

func onStatement(text string, kind Kind) (func([]byte) Kind, *atomic.Bool) {
	var on atomic.Bool
	return func(chunk []byte) Kind {
		if bytes.Contains(chunk, []byte(text)) && on.Swap(false) {
			return kind
		}
		return ""
	}, &on
}

// OnStatement returns a DecideChunk for the proxy that picks kind for the
// first chunk holding text once the returned flag is set.
func OnStatement(text string, kind Kind) (func([]byte) Kind, *atomic.Bool) {
	return onStatement(text, kind)
}
