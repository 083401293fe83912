package storagetest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// brokenEnv selects the deliberately broken store a child run of
// TestSuiteCatchesBrokenStores runs the suite on.
const brokenEnv = "STATEFOLD_BROKEN_STORE"

// brokenStores are the stores TestSuiteCatchesBrokenStores runs the suite
// on, by name (see broken_test.go), with the one area that must catch each
// and subtests of it that must fail. "none" is the unbroken store, which
// must pass every area.
var brokenStores = []struct {
	kind     string
	newStore func() storage.Store
	area     string
	subtests []string
}{
	{"none", func() storage.Store { return memory.New() }, "", nil},
	// A store that returns local times gets one clear failure, and no area runs.
	{"local-times", func() storage.Store { return localTimes{memory.New()} }, "Preflight", nil},
	{"create-upserts", func() storage.Store { return createUpserts{memory.New()} }, "CRUD", []string{"Batch"}},
	{"get-batches-dups", func() storage.Store { return getBatchesDups{memory.New()} }, "CRUD", []string{"GetBatches", "GetBatchesMany"}},
	{"ignores-version", func() storage.Store { return ignoresVersion{memory.New()} }, "CAS", []string{"Batch", "Apply"}},
	{"ignores-state", func() storage.Store { return ignoresState{memory.New()} }, "CAS", []string{"BatchState"}},
	{"non-atomic-cas", func() storage.Store { return nonAtomicCAS{memory.New()} }, "CAS", []string{"RaceBatch", "RaceApply", "RaceOperation"}},
	{"lower-overwrites", func() storage.Store { return lowerOverwrites{memory.New()} }, "Membership", []string{"Upsert"}},
	{"lower-silent", func() storage.Store { return lowerSilent{memory.New()} }, "Membership", []string{"Upsert"}},
	{"folds-case", func() storage.Store { return foldsCase{memory.New()} }, "Keys", []string{"BatchIDs"}},
	{"clamps-times", func() storage.Store { return clampsTimes{memory.New()} }, "Validation", []string{"TimeRange"}},
	{"repairs-labels", func() storage.Store { return repairsLabels{memory.New()} }, "Validation", []string{"Labels"}},
	{"drops-ownership", func() storage.Store { return dropsOwnership{memory.New()} }, "RoundTrip", []string{"Fields", "Ownership"}},
	{"aliases-reads", func() storage.Store { return &aliasesReads{Store: memory.New(), cache: map[string][]byte{}} }, "RoundTrip", []string{"ReadsNotAliased"}},
	{"shares-read-buffer", func() storage.Store { return &sharesReadBuffer{Store: memory.New(), bufs: map[string][]byte{}} }, "RoundTrip", []string{"ReadsNotAliased"}},
	// Orchestration and explorer areas: rules only a concurrent caller on
	// top of the store exposes. The child runs only that area, as the
	// broken rule may show in the store areas too.
	{"stale-members", func() storage.Store { return &staleMembers{Store: memory.New(), last: map[string][]storage.Member{}} }, "Orchestration", []string{"Races"}},
	{"loses-claims", func() storage.Store { return losesClaims{memory.New()} }, "Interleavings", []string{"DriveHaltDrive"}},
}

// storeAreas are the store-contract areas of Run, which the child runs: the
// orchestration areas test batchstate and applystate on top of the store and
// are not what a broken store wrapper is about.
var storeAreas = []string{"Preflight", "CRUD", "CAS", "Membership", "Keys", "Validation", "RoundTrip"}

// brokenChild runs the suite on the store named by kind: the child half of
// TestSuiteCatchesBrokenStores, which re-executes itself with the
// STATEFOLD_BROKEN_STORE variable set.
func brokenChild(t *testing.T, kind string) {
	for _, b := range brokenStores {
		if b.kind == kind {
			storagetest.Run(t, func(*testing.T) storage.Store { return b.newStore() })
			return
		}
	}
	t.Fatalf("%s=%q names no broken store", brokenEnv, kind)
}

// failedRE matches a failed subtest of the child run: area and subtest.
var failedRE = regexp.MustCompile(`--- FAIL: TestSuiteCatchesBrokenStores/([^/\s]+)(?:/(\S+))?`)

// The suite must fail against stores that break the contract: each broken
// store is run through Run in a child test process, which must fail in the
// area that owns the broken rule and in no other, with the listed subtests
// among its failures, while the unbroken store passes every area.
// Re-executed with STATEFOLD_BROKEN_STORE set, the test is its own child.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	if kind := os.Getenv(brokenEnv); kind != "" {
		brokenChild(t, kind)
		return
	}
	for _, b := range brokenStores {
		t.Run(b.kind, func(t *testing.T) {
			t.Parallel()
			runAreas := storeAreas
			if b.area != "" && !slices.Contains(storeAreas, b.area) {
				runAreas = []string{b.area}
			}
			run := "^TestSuiteCatchesBrokenStores$/^(" + strings.Join(runAreas, "|") + ")$"
			cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.v", "-test.short", "-test.count=1", "-test.timeout=3m")
			cmd.Env = append(os.Environ(), brokenEnv+"="+b.kind)
			out, err := cmd.CombinedOutput()
			failed := map[string]bool{} // "Area" and "Area/Subtest"
			for _, m := range failedRE.FindAllStringSubmatch(string(out), -1) {
				failed[m[1]] = true
				if m[2] != "" {
					failed[m[1]+"/"+m[2]] = true
				}
			}
			if b.area == "" {
				require.NoError(t, err, "the unbroken store passes:\n%s", out)
				for _, a := range storeAreas {
					require.Contains(t, string(out), "--- PASS: TestSuiteCatchesBrokenStores/"+a+" ", "area %s ran and passed", a)
				}
				return
			}
			require.Error(t, err, "the suite must fail on the %s store:\n%s", b.kind, out)
			var areas, subtests []string
			for f := range failed {
				if !strings.Contains(f, "/") {
					areas = append(areas, f)
				} else {
					subtests = append(subtests, f)
				}
			}
			slices.Sort(subtests)
			require.Equal(t, []string{b.area}, areas, "only the %s area fails on the %s store:\n%s", b.area, b.kind, out)
			for _, sub := range b.subtests {
				require.True(t, failed[b.area+"/"+sub], "%s/%s fails on the %s store:\n%s", b.area, sub, b.kind, out)
			}
			if b.area == "Preflight" {
				require.Equal(t, 1, strings.Count(string(out), "--- FAIL: TestSuiteCatchesBrokenStores/Preflight"), "one clear failure:\n%s", out)
				require.Contains(t, string(out), "times must come back in UTC", "the failure names the rule")
				require.NotContains(t, string(out), "--- PASS: TestSuiteCatchesBrokenStores/CRUD", "no area runs after a failed preflight")
			}
			t.Logf("%s is caught by %s", b.kind, strings.Join(append(areas, subtests...), ", "))
		})
	}
}

// countingHarness counts the stores it hands out and its Close calls.
type countingHarness struct {
	stores, closes atomic.Int32
}

func (h *countingHarness) NewStore(*testing.T) storage.Store { h.stores.Add(1); return memory.New() }
func (h *countingHarness) Close() error                      { h.closes.Add(1); return nil }

// RunHarness takes its stores from the harness and closes it once, after
// every area; WithScale shrinks the repeated parts for a slow store.
func TestRunHarnessClosesOnceAfterEveryArea(t *testing.T) {
	t.Parallel()
	h := &countingHarness{}
	t.Run("suite", func(t *testing.T) {
		storagetest.RunHarness(t, h, storagetest.WithScale(0.05),
			storagetest.WithExploration(storagetest.Exploration{Random: 1, Seed: 1, Scenarios: []string{"TransitionList"}}),
			storagetest.WithModelCheck(smallModelCheck()))
		require.Zero(t, h.closes.Load(), "not closed while the areas run")
	})
	require.Positive(t, h.stores.Load())
	require.Equal(t, int32(1), h.closes.Load())
}

// smallModelCheck is the default model check cut to a few scenarios: the
// harness test is about when the harness closes, not about what the model
// check finds (make modelcheck runs it whole).
func smallModelCheck() storagetest.ModelCheck {
	m := storagetest.DefaultModelCheck()
	m.Scenarios = 20
	return m
}

// The replay variables make the exploring areas replay one schedule, and
// such a run never passes: it cannot turn a contract run green alone.
func TestReplayNeverPasses(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	for env, area := range map[string]string{
		explore.ScheduleEnv: "Interleavings",
		explore.ModelEnv:    "ModelCheck",
	} {
		value := "TransitionList:a"
		if env == explore.ModelEnv {
			value = "ops A.0. B.1. ; loop.A.completed stop#a"
		}
		cmd := exec.Command(goTool, "test", "-count=1", "-timeout", "120s", "-run", "^TestContract$/^"+area+"$", "../storage/memory")
		cmd.Env = append(os.Environ(), env+"="+value)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "%s=%q passed:\n%s", env, value, out)
		require.Contains(t, string(out), env+" is set", "%s", out)
	}
}
