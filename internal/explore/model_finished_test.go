package explore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A ListOpen files the seeded terminal applies and a PruneFinished after
// it prunes the stopped one (its operation deleted, its payload dropped)
// and cleans the row of the one without operations; both replay clean.
func TestPruneFinishedSchedulesReplayClean(t *testing.T) {
	t.Parallel()
	const scenario = "ops A.0.halt...completed B.1.halt...completed ; discover ; list finished"
	trace := replayClean(t, t.Name(), scenario, "")
	require.Contains(t, trace, "DeleteOperation")
	require.Contains(t, trace, "RemoveMember")
	t.Log(trace)
}

// The generator draws PruneFinished actors, crashing ones with a second
// call among them, only over discovery scenarios.
func TestGenFinishedDraws(t *testing.T) {
	t.Parallel()
	finished, crashed := 0, 0
	for i := range 2000 {
		g, ok := genScenario(1, i).(*genApply)
		if !ok || !g.prunesFinished() {
			continue
		}
		require.True(t, g.discover, "scenario %d: %s", i, g)
		finished++
		if strings.Contains(g.String(), "finished.x") {
			crashed++
			require.Equal(t, 2, strings.Count(g.String(), "finished"), "scenario %d: %s", i, g)
		}
	}
	t.Logf("%d scenarios with PruneFinished, %d with a crash", finished, crashed)
	require.Greater(t, finished, 50)
	require.Greater(t, crashed, 20)
}
