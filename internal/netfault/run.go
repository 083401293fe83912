package netfault

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
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
// schedules, C crash points". Each violation fails t. It returns the
// counts.
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
// compare-and-swaps, member upserts, removals and listings on s (whose
// faults counts reports), checks it against the store contract (a write
// that failed after it may have been sent counts as possibly applied),
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
	t.Logf("linearizable on %s: %d operations, %d faults, %s (%d possibly applied, %d failed reads left out)",
		backend, res.Operations, faults, verdict, res.Ambiguous, res.Dropped)
	require.True(t, res.Linearizable, "%+v", res)
	require.Positive(t, faults, "faults were injected")
}
