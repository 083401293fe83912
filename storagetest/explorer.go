package storagetest

import (
	"context"
	"testing"

	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
)

// Exploration bounds the interleaving explorer of the Interleavings area
// ([WithExploration]) and of [ExploreAllWith]: how many preemptions,
// injected faults and clock jumps one schedule may take (Preemptions,
// Faults, ClockAdvances, Events), how many seeded random schedules follow
// the bounded search (Random, Seed, PCT), the wall time of it all
// (Budget), which scenarios run (Scenarios, empty for all), and how many
// schedules run at once (Parallel).
type Exploration = explore.Exploration

// DefaultExploration is what [Run] explores unless told otherwise: every
// schedule within two preemptions, one fault and one clock jump, at most
// two of them together, then 25 random schedules per scenario, four
// schedules at once, within 30 seconds in all. Under -short: one of them,
// 5 random schedules, 15 seconds.
func DefaultExploration() Exploration { return explore.DefaultExploration() }

// ModelCheck bounds the ModelCheck area ([WithModelCheck]) and
// [CheckModelWith]: how many scenarios are generated (Scenarios, from
// Seed), how each is explored (Exploration), the wall time of the check
// (Budget) and how many scenarios run at once (Parallel).
type ModelCheck = explore.ModelCheck

// DefaultModelCheck is what [Run] checks unless told otherwise: 2,000
// generated scenarios on seed 1, two at once, within 8 minutes (200 under
// -short); the environment variable STATEFOLD_EXPLORE_SCALE multiplies the
// scenarios and the budget.
func DefaultModelCheck() ModelCheck { return explore.DefaultModelCheck() }

// RemoteModelCheck is [DefaultModelCheck] sized for a store over a
// network: 120 scenarios, each in its default schedule and 3 random ones,
// four at once, within 4 minutes (20 scenarios under -short); scaled the
// same way.
func RemoteModelCheck() ModelCheck { return explore.RemoteModelCheck() }

// ExploreAllWith runs the scenarios of the Interleavings area (or those
// x.Scenarios names) with the orchestrators' store calls going to actors,
// another handle on the same data as store — for example a client whose
// network faults are injected below the backend — while the setup and the
// checks after every step read store. Each scenario gets an equal share of
// what is left of x.Budget. Each violation (with its schedule and trace)
// is an error of t; it returns how many schedules ran and how many
// violated an invariant. Faults at random below actors make a schedule's
// store calls differ from run to run, so give it random schedules only
// (Random, no bounds).
func ExploreAllWith(t testing.TB, store, actors storage.Store, x Exploration) (schedules, violations int) {
	t.Helper()
	return explore.ExploreAllWith(t, store, actors, x)
}

// CrashPointsWith runs the crash points of the Orchestration area with the
// calls under test going to actors while the setup, the repair and the
// checks use store (see [ExploreAllWith]). A call that actors fails on its
// own (an error matching storage.ErrUnavailable) ends there, as a crash
// would; the invariants must hold all the same. It returns how many crash
// points were reached and in how many crash cases an invariant failed;
// every violation fails t.
func CrashPointsWith(t *testing.T, store, actors storage.Store) (explored, failed int) {
	t.Helper()
	return explore.CrashPointsWith(t, store, actors)
}

// CheckModelWith runs the model check of the ModelCheck area within m with
// the actors' store calls going to actors while the setup and the checks
// read store (see [ExploreAllWith]). Each scenario runs its first schedule
// and then m's random ones; no schedule is searched for by replaying a
// prefix, since faults make the calls differ from run to run. Each broken
// promise (minimized, with how to replay it) and an error of the check
// itself fail t; it returns how many scenarios and schedules ran and how
// many promises were broken.
func CheckModelWith(t testing.TB, store, actors storage.Store, m ModelCheck) (scenarios, schedules, violations int) {
	t.Helper()
	res, err := explore.CheckModelWith(context.Background(), store, actors, m)
	if err != nil {
		t.Errorf("storagetest: model check: %v", err)
	}
	for _, v := range res.Violations {
		t.Errorf("%s\n%s", v.Error(), v.Result.Trace)
	}
	return res.Scenarios, res.Schedules, len(res.Violations)
}
