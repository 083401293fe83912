package explore

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage/memory"
)

// A holds schedule makes the race of the applystate issue's hole 1: B's
// first loop held at its row write, A's loop at its apply write two calls
// later, B's second loop between its row write and its apply write; the
// first loop's row write is then lost. The fixed Drive breaks no promise
// there, and the enumeration of holds includes that schedule.
func TestHoldsMakeTheLostRowCAS(t *testing.T) {
	t.Parallel()
	g, err := parseGen("ops A.0. B.1....waiting_for_cutover ; loop.A.completed.ready loop.B.completed.w1 loop.B.completed.w1")
	require.NoError(t, err)
	sc := g.scenario("holds")
	st := memory.New()
	want := []exHold{{"b", 1}, {"a", 9}, {"c", 2}}
	res, err := exRunSchedule(context.Background(), st, sc, newHolds(want), NewBatchOrchestrator, true)
	require.NoError(t, err)
	require.NoError(t, res.Violation, res.Trace)
	prefix := strings.Repeat("b ", 4) + strings.Repeat("a ", 20) + strings.Repeat("c ", 7) + "b"
	require.True(t, strings.HasPrefix(res.Schedule, prefix), "schedule %s", res.Schedule)
	require.Regexp(t, `32 b   UpdateOperation\([^)]*/B v1 → running\) → error: .*version conflict`, res.Trace)

	solo := 0
	writes := map[string]int{}
	plans, stop := exHoldPlans(sc, rand.New(rand.NewPCG(1, 1)), func(ch exChooser) bool {
		c, ok := ch.(*exSolo)
		require.True(t, ok, "the first schedules run one actor first")
		r, err := exRunSchedule(context.Background(), st, sc, ch, NewBatchOrchestrator, false)
		require.NoError(t, err)
		require.NoError(t, r.Violation)
		writes[c.first] = len(c.objects)
		solo++
		return false
	})
	require.False(t, stop)
	require.Equal(t, 3, solo)
	// The plans that let an actor run past its last write come last.
	end := func(p []exHold) bool {
		return slices.ContainsFunc(p, func(h exHold) bool { return h == exJump || h.k > writes[h.actor] })
	}
	first := slices.IndexFunc(plans, end)
	require.Positive(t, first, "plans with an actor run to its end are enumerated")
	require.False(t, slices.ContainsFunc(plans[:first], end))
	require.False(t, sc.clock)
	require.False(t, slices.ContainsFunc(plans, func(p []exHold) bool { return p[len(p)-1] == exJump }), "no clock jump where time decides nothing")
	require.False(t, slices.ContainsFunc(plans[first:], func(p []exHold) bool { return !end(p) }), "they come after every other")
	plans = plans[:first]
	i := slices.IndexFunc(plans, func(p []exHold) bool { return slices.Equal(p, want) })
	require.GreaterOrEqual(t, i, 0, "the holds of the race are enumerated")
	// Holds at writes to what only one actor writes (A's row: every write
	// of A's loop but its apply writes, the 1st, 3rd, 6th, 9th and 12th)
	// come last.
	shared := func(p []exHold) bool {
		return !slices.ContainsFunc(p, func(h exHold) bool { return h.actor == "a" && !slices.Contains([]int{1, 3, 6, 9, 12}, h.k) })
	}
	last := slices.IndexFunc(plans, func(p []exHold) bool { return !shared(p) })
	require.Greater(t, last, i)
	require.False(t, slices.ContainsFunc(plans[last:], shared), "holds at an unshared write come after every other")
}
