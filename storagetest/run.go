package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/explore"
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
		{"Delete", "a conditional delete removes a row only at the stored version: a stale or future version is ErrConflict and deletes nothing, a missing row ErrNotFound; of racing deleters exactly one wins, and of a delete and an update at one version exactly one; a deleted id can be created again at Version 1; DeleteBatch and DeleteApply leave member rows and operations", func(t *testing.T, ns func(t *testing.T) storage.Store) {
			runDelete(t, ns, cfg.n(raceRounds))
		}},
		{"Membership", "AddMember is an upsert that never lowers the version: a lower version is ErrConflict and changes nothing, an equal or higher one succeeds; RemoveMember removes only rows at most maxVersion; buckets and queues are isolated", runMembership},
		{"Snapshot", "a store's optional capabilities answer as the Store methods do: ListSnapshot's batches, stale rows and extra batches (whole, by page, under OthersIn) match the buckets read and resolved, one snapshot finds a batch that moves with its rows, bad input is ErrInvalid; ListMembersPage walks a bucket in batch id order; a store without them answers errors.ErrUnsupported", runSnapshot},
		{"Move", "a store's optional one-statement move (storage.Mover) answers and writes what AddMember and then UpdateBatch do, whether the row is absent, older, equal or newer and whether the batch is at the expected version and state or missing; of racing moves one wins; bad input is ErrInvalid and writes nothing; a store without it answers errors.ErrUnsupported", runMove},
		{"Keys", "keys compare byte for byte: case, trailing spaces, separators, NUL and non-ASCII never collide; state prefixes list only their own rows", runKeys},
		{"Validation", "bad keys (the expected state of a batch update included), versions, payloads, messages, times outside [MinTime, MaxTime] and bad labels are ErrInvalid and write nothing: never clamped, truncated or repaired", runValidation},
		{"RoundTrip", "payload bytes, UTC microsecond times, zero times, booleans and strings come back exactly; no read hands out a payload the store keeps", runRoundTrip},
		{"Orchestration", "batchstate and applystate end to end on the store: crash points, a deterministic test per known race, churn under a reader and a janitor, concurrency, bad input", func(t *testing.T, ns func(t *testing.T) storage.Store) {
			explore.RunOrchestration(t, ns, cfg.n, cfg.churnLists)
		}},
		{"Interleavings", "batchstate's and applystate's invariants hold in every schedule of small concurrent scenarios, within bounds on preemptions, faults and clock jumps (see Exploration)", func(t *testing.T, ns func(t *testing.T) storage.Store) {
			explore.RunInterleavings(t, ns, cfg.exploration)
		}},
		{"ModelCheck", "generated applystate and batchstate scenarios, each explored, keep every promise of the specification written from the documentation (see ModelCheck)", func(t *testing.T, ns func(t *testing.T) storage.Store) {
			explore.RunModelCheck(t, ns, cfg.model)
		}},
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
	if !t.Run("Preflight", func(t *testing.T) { preflight(t, newStore(t)) }) {
		t.Log("storagetest: the store breaks a rule every area relies on (see Preflight); fix it first, the areas are not run")
		return
	}
	for _, a := range areas(newRunConfig(opts)) {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			a.run(t, newStore)
		})
	}
}

// preflight checks the rules every area relies on, one clear failure each,
// before the areas run: a store that breaks one would otherwise fail
// hundreds of checks across every area.
func preflight(t *testing.T, s storage.Store) {
	ctx := context.Background()
	q := UniqueID("preflight")
	local := time.FixedZone("UTC+5", 5*3600)
	at := time.Date(2031, 7, 8, 9, 10, 11, 123456789, local)
	created, err := s.CreateBatch(ctx, storage.Batch{Queue: q, ID: "b", State: "s", CreatedAt: at, UpdatedAt: at})
	if err != nil {
		t.Fatalf("a valid CreateBatch must succeed on a fresh queue: %v", err)
	}
	if created.Version != 1 {
		t.Fatalf("CreateBatch must return the stored row with Version 1, got Version %d", created.Version)
	}
	got, err := s.GetBatch(ctx, q, "b")
	if err != nil {
		t.Fatalf("reads must see every write that returned (read after write): GetBatch right after CreateBatch: %v", err)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Fatalf("times must come back in UTC: wrote %v, read back %v (location %q); store and return storage.NormalizeTime(t)",
			at, got.CreatedAt, got.CreatedAt.Location())
	}
	if want := storage.NormalizeTime(at); !got.CreatedAt.Equal(want) || got.CreatedAt.Nanosecond()%1000 != 0 {
		t.Fatalf("times must come back truncated to the microsecond: wrote %v, read back %v, want %v",
			at, got.CreatedAt, want)
	}
	if _, err := s.GetBatch(ctx, q, "missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a read of a missing row must match storage.ErrNotFound, got %v", err)
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

// UniqueID returns prefix, a dash and 12 random hex digits: a queue, apply
// or table name that no other test or run uses.
func UniqueID(prefix string) string { return explore.UniqueID(prefix) }
