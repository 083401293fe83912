package explore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage/memory"
)

// replayClean replays schedule over scenario on memory, requires no
// violation, and returns the trace.
func replayClean(t *testing.T, name, scenario, schedule string) string {
	t.Helper()
	g, err := parseGen(scenario)
	require.NoError(t, err)
	ch, err := exParseSchedule(schedule)
	require.NoError(t, err)
	ch.lenient = true
	res, err := exRunSchedule(context.Background(), memory.New(), g.scenario(name), ch, NewBatchOrchestrator, true)
	require.NoError(t, err)
	require.NoError(t, res.Violation, "%s\n%s", name, res.Trace)
	return res.Trace
}

// A Prune after a batch's move into a terminal state prunes it, and one
// that runs while the move is in flight (its finished-index row written,
// its swap not yet: the schedule that found a Prune that did not check
// the batch it read was terminal) keeps it; both replay clean.
func TestPruneSchedulesReplayClean(t *testing.T) {
	t.Parallel()
	const scenario = "batch s0 t0 s0>t0 ; b0=s0 ; move.b0.t0 prune"
	for name, c := range map[string]struct{ schedule, want string }{
		"the Prune runs after the move":              {"a a a a a a a a b b b b b b b b b b", "UpdateBatch(b0 t0 v2 → statefold:abandoned) → v3"},
		"the Prune runs while the move is in flight": {"a a a a a a b b b b b b b b a a a a", "GetBatches(b0) → [b0:s0:v1]"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Contains(t, replayClean(t, name, scenario, c.schedule), c.want)
		})
	}
}

// A Prune of an apply terminal from the start deletes its operations and
// leaves it terminal; one of an open apply deletes nothing; both replay
// clean.
func TestApplyPruneSchedulesReplayClean(t *testing.T) {
	t.Parallel()
	t.Run("a completed apply is pruned", func(t *testing.T) {
		t.Parallel()
		trace := replayClean(t, t.Name(), "ops A.0.halt...completed B.1.halt...completed ; prune", "a a a a a a a a")
		require.Contains(t, trace, "DeleteOperation")
	})
	t.Run("an open apply is kept", func(t *testing.T) {
		t.Parallel()
		trace := replayClean(t, t.Name(), "ops A.0.halt B.1.halt ; prune stop", "a a a a a a b b b b b b b b b b")
		require.NotContains(t, trace, "DeleteOperation")
	})
}
