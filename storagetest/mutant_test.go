package storagetest_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	planted "github.com/statefold/statefold/internal/mutant"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// plantedBugs are the applystate bugs internal/mutant can plant back (one
// per build tag), each with the explorer scenario built to find it and the
// invariant it breaks there.
var plantedBugs = []struct{ name, scenario, invariant string }{
	// The unconditional fold: a stale row of the caller's own operation
	// over a later write in the listing.
	{"fold", "DuplicateDriveLoops", "projection:"},
	// Rows that move backwards (a settled row rewritten by a late report).
	{"rowsmove", "DuplicateDriveLoops", "settled:"},
	// A stop that never settles: a claim that reads a stop and is kept.
	{"claimpasses", "StopDrivePending", "claim:"},
	// A lost response, silently: a landed terminal write nobody owns.
	{"lostwrite", "DriveCompletingReproject", "terminalized:"},
}

// In a build with a planted bug (see TestExplorerFindsPlantedBugs), the
// explorer finds it in its scenario, names the invariant, and its schedule
// breaks it again replayed alone; in a build without one, the same
// scenarios explore clean.
func TestPlantedBug(t *testing.T) {
	t.Parallel()
	for _, b := range plantedBugs {
		if planted.Name != "" && b.name != planted.Name {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			x := storagetest.Exploration{Preemptions: 2, Faults: 1, ClockAdvances: 1, Events: 2}
			res, err := storagetest.Explore(ctx, memory.New(), b.scenario, x, storagetest.NewBatchOrchestrator)
			require.NoError(t, err)
			require.Positive(t, res.Schedules())
			if planted.Name == "" {
				require.Empty(t, res.Violations, "the unplanted build breaks %s", b.scenario)
				return
			}
			require.NotEmpty(t, res.Violations, "the explorer missed the planted bug %q in %d schedules", b.name, res.Schedules())
			v := res.Violations[0]
			require.Contains(t, v.Error(), b.invariant)
			again, err := storagetest.Replay(ctx, memory.New(), b.scenario, v.Schedule, storagetest.NewBatchOrchestrator)
			require.NoError(t, err)
			require.Error(t, again.Violation, "schedule %q replayed alone", v.Schedule)
			t.Logf("planted bug %s found in %s by %q", b.name, b.scenario, strings.SplitN(v.Error(), "\n", 2)[0])
		})
	}
}

// Each planted bug, built in with its tag, is found by the explorer: this
// runs TestPlantedBug in a build of this package per bug.
func TestExplorerFindsPlantedBugs(t *testing.T) {
	t.Parallel()
	if planted.Name != "" {
		return // the child build runs TestPlantedBug only
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	for _, b := range plantedBugs {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(goTool, "test", "-count=1", "-tags", "statefold_mutant_"+b.name, "-run", "^TestPlantedBug$", "-v", ".")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "planted bug %s:\n%s", b.name, out)
			require.Contains(t, string(out), "--- PASS: TestPlantedBug/"+b.name+" ", "%s", out)
			require.Contains(t, string(out), "planted bug "+b.name+" found", "%s", out)
		})
	}
}
