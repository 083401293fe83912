package explore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage/memory"
)

// The schedules that found the planted Lookup bugs replay clean on the
// real orchestrator, and their Lookup reads the key's bucket.
func TestLookupSchedulesReplayClean(t *testing.T) {
	t.Parallel()
	const scenario = "batch s0,s1,s2,s3 t0,t1 s0>s1,s2,s3,t1 s1>s2,s3,t0 s2>s0,s1,s3,t0,t1 s3>s1,t0,t1 ; b0=s0 ; lookup.g0 move.b0.s1"
	for name, schedule := range map[string]string{
		"the batch moves between the Lookup's two reads": "a b b b b b b b b a",
		"the Lookup runs while the batch moves":          "b b b b b b b a b b",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g, err := parseGen(scenario)
			require.NoError(t, err)
			ch, err := exParseSchedule(schedule)
			require.NoError(t, err)
			ch.lenient = true
			res, err := exRunSchedule(context.Background(), memory.New(), g.scenario(name), ch, NewBatchOrchestrator, true)
			require.NoError(t, err)
			require.NoError(t, res.Violation, "%s\n%s", name, res.Trace)
			require.Contains(t, res.Trace, "ListMembers(\x00statefold:key:group:g0)", "the Lookup read its key's bucket")
		})
	}
}
