package plant_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// plantEnv names the planted bug a child run of TestPlantedBugsFound
// checks; the child's build has that bug planted.
const plantEnv = "STATEFOLD_PLANTED"

// bug is one planted bug: in file (relative to the module root), the text
// from, which must occur exactly once, becomes to.
type bug struct {
	name, why, file, from, to string
}

// TestPlantedBugsFound plants each bug in a build of this package's tests
// and requires the model check to find it there.
func TestPlantedBugsFound(t *testing.T) {
	if os.Getenv(plantEnv) != "" {
		return // a child: TestModelCheckFindsThePlantedBug runs
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	planted := bugs
	if os.Getenv("STATEFOLD_PLANTED_HARD") == "1" {
		planted = append(slices.Clone(bugs), hardBugs...)
	}
	var found atomic.Int64
	t.Cleanup(func() { t.Logf("planted bugs found by the explorer: %d/%d", found.Load(), len(planted)) })
	require.GreaterOrEqual(t, len(planted), 20)
	names := map[string]bool{}
	for _, b := range planted {
		require.False(t, names[b.name], "two bugs named %s", b.name)
		names[b.name] = true
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(filepath.Join(root, b.file))
			require.NoError(t, err)
			require.Equal(t, 1, strings.Count(string(src), b.from), "bug %s no longer applies: %s must hold its text exactly once", b.name, b.file)
			dir := t.TempDir()
			planted := filepath.Join(dir, filepath.Base(b.file))
			require.NoError(t, os.WriteFile(planted, []byte(strings.Replace(string(src), b.from, b.to, 1)), 0o644))
			overlay, err := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(root, b.file): planted}})
			require.NoError(t, err)
			ov := filepath.Join(dir, "overlay.json")
			require.NoError(t, os.WriteFile(ov, overlay, 0o644))
			cmd := exec.Command(goTool, "test", "-overlay", ov, "-count=1", "-timeout", "600s",
				"-run", "^TestModelCheckFindsThePlantedBug$", "-v", ".")
			cmd.Env = append(os.Environ(), plantEnv+"="+b.name)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "planted bug %s (%s):\n%s", b.name, b.why, out)
			m := regexp.MustCompile(`planted bug \S+ found: .*`).Find(out)
			require.NotNil(t, m, "%s", out)
			t.Log(string(m))
			found.Add(1)
		})
	}
}

// TestModelCheckFindsThePlantedBug is the child run: in a build with a
// planted bug the model check must report a violation; without one (run
// directly), a short check of the same kind must find none.
func TestModelCheckFindsThePlantedBug(t *testing.T) {
	name := os.Getenv(plantEnv)
	m := explore.DefaultModelCheck()
	m.Shrink = 2 * time.Second
	if name == "" {
		m.Scenarios = 60
	} else {
		m.MaxViolations = 1
		m.Scenarios = max(m.Scenarios, 4000)
		m.Budget = 4 * time.Minute
	}
	res, err := explore.CheckModel(context.Background(), func() storage.Store { return memory.New() }, m)
	require.NoError(t, err)
	if name == "" {
		require.Empty(t, res.Violations, "the unplanted build breaks a promise")
		require.Positive(t, res.Schedules)
		return
	}
	require.NotEmpty(t, res.Violations, "planted bug %s not found in %d scenarios, %d schedules (%s)", name, res.Scenarios, res.Schedules, res.Elapsed)
	v := res.Violations[0]
	first, _, _ := strings.Cut(v.Error(), "\n")
	fmt.Printf("planted bug %s found: scenario %d after %s: %s\n", name, v.Index, v.After.Round(time.Millisecond), first)
	again, err := explore.ReplayModel(context.Background(), memory.New(), v.Scenario, v.Result.Schedule)
	require.NoError(t, err)
	require.Error(t, again.Violation, "the minimized schedule, replayed alone, must break a promise again")
}
