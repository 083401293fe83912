package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/statefold/statefold/storage"
)

// Area is one part of the contract suite, run by [Run] as a subtest of the
// same name.
type Area struct {
	// Name is the subtest name.
	Name string
	// Doc says what the area proves.
	Doc string
	run func(t *testing.T, newStore func(t *testing.T) storage.Store)
}

// Areas returns the contract areas [Run] runs, in order.
func Areas() []Area { return areas(newRunConfig(nil)) }

func areas(cfg runConfig) []Area {
	return []Area{
		{"CRUD", "create returns Version 1, duplicate create is ErrAlreadyExists, missing get is ErrNotFound, GetBatches and ListOperations return exactly their rows", runCRUD},
		{"CAS", "update with the stored version (and, for a batch, the stored state) writes every field and bumps the version; a stale version or another batch state is ErrConflict and changes nothing, missing is ErrNotFound, racing writers have one winner in every one of several races", func(t *testing.T, ns func(t *testing.T) storage.Store) {
			runCAS(t, ns, cfg.n(raceRounds))
		}},
		{"Membership", "AddMember is an upsert that never lowers the version: a lower version is ErrConflict and changes nothing, an equal or higher one succeeds; RemoveMember removes only rows at most maxVersion; buckets and queues are isolated", runMembership},
		{"Keys", "keys compare byte for byte: case, trailing spaces, separators, NUL and non-ASCII never collide; state prefixes list only their own rows", runKeys},
		{"Validation", "bad keys (the expected state of a batch update included), versions, payloads, messages, times outside [MinTime, MaxTime] and bad labels are ErrInvalid and write nothing: never clamped, truncated or repaired", runValidation},
		{"RoundTrip", "payload bytes, UTC microsecond times, zero times, booleans and strings come back exactly; no read hands out a payload the store keeps", runRoundTrip},
		{"Orchestration", "batchstate and applystate end to end on the store: crash points, a deterministic test per known race, churn under a reader and a janitor, concurrency, bad input", cfg.orchestration},
		{"Interleavings", "batchstate's invariants hold in every schedule of small concurrent scenarios, within bounds on preemptions, faults and clock jumps (see Explore)", cfg.interleavings},
	}
}

// Run runs the whole contract suite against the stores newStore returns,
// one parallel subtest per [Area]. newStore may return the same store every
// time: the suite isolates itself with unique queue and apply ids; release
// what newStore acquires with t.Cleanup, or use [RunHarness]. Under -short
// the concurrency areas and the exploration shrink. Options adjust the run
// ([WithExploration], [WithScale], [WithChurnLists]).
func Run(t *testing.T, newStore func(t *testing.T) storage.Store, opts ...Option) {
	t.Helper()
	for _, a := range areas(newRunConfig(opts)) {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			a.run(t, newStore)
		})
	}
}

// Harness is what a backend's test hands the suite ([RunHarness]): a
// store for each subtest, and a Close that releases what the harness holds
// (connections, tables it created) once every area has finished.
type Harness interface {
	// NewStore returns a store for one subtest; it may return the same
	// store every time. Subtests call it concurrently.
	NewStore(t *testing.T) storage.Store
	// Close releases the harness. It runs once, after every area.
	Close() error
}

// RunHarness runs [Run] over h's stores and closes h when the suite is
// done, failing t if Close fails.
func RunHarness(t *testing.T, h Harness, opts ...Option) {
	t.Helper()
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("storagetest: close the harness: %v", err)
		}
	})
	Run(t, h.NewStore, opts...)
}

// ts returns a fixed UTC time at microsecond precision, offset by n seconds.
func ts(n int) time.Time {
	return time.Date(2031, 7, 8, 9, 10, 11, 123456000, time.UTC).Add(time.Duration(n) * time.Second)
}

// parallel runs each named case as a parallel subtest with a store.
func parallel(t *testing.T, newStore func(t *testing.T) storage.Store, cases map[string]func(t *testing.T, ctx context.Context, s storage.Store)) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c(t, context.Background(), newStore(t))
		})
	}
}
