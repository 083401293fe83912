package explore

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage/memory"
)

// modelRegressions are violations the model check found, minimized, each
// replayed alone after its fix: the scenario and the schedule that broke a
// promise, and what it broke.
var modelRegressions = []struct{ name, scenario, schedule, broke string }{
	{"StopMovesRowsAfterTerminal",
		"ops A.0.halt B.1. C.2.continue ; loop.C.failed.late.back.w1 stop",
		"a a a a a b a b a a a b a a a a a a a b b b b b b",
		"Stop's bump lost to the terminal write of a drive loop, and Stop moved A and B to stopped on the stopped apply"},
	{"VWithAWriterAhead",
		"batch s0,s1,s2,s3 t0 s0>s3,t0 s1>s0,s2,s3,t0 s2>s3 s3>s1,t0 ; b0=s1 b1=s1 ; move.b1.s1.s2~3 create.c1.s2 list.s1.s2",
		"a b c b a a~ c c c",
		"a row stamped by a clock 3 minutes ahead was kept by a Reconcile past the grace by its own clock"},
	// The planted bugs the drawn races found (internal/plant), each
	// replayed on the real code.
	{"ReprojectBetweenAStaleWriteAndACrash",
		"ops A.0.pause B.1.pause...waiting_for_cutover ; loop.A.completed reproject loop.B.completed.x8",
		"a a a a a a a a a a a a a a a a a a a a c c c c c c c b b a a",
		"reproject-not-forced: a write computed before B's row landed after a Reproject that wrote nothing"},
	{"ListOpenPastTheGraceBeforeTheApply",
		"ops C.2. ; plan ; discover ; list plan",
		"b b b b b +t a a a a a a b",
		"no-created-row: the ListOpen removed the row of the apply not created yet, and CreatePlan did not file it again"},
	{"StopWithAClockStandingStill",
		"ops B.1. ; discover ; stop.still",
		"a a a a a a a a a a a a",
		"flag-write-plain-clock: Stop's flag write and its bump carried the same UpdatedAt"},
}

// Each violation the model check found replays clean once fixed. The
// replay is lenient: a fix changes the store calls the actors make, so
// steps they no longer make are skipped.
func TestModelRegressions(t *testing.T) {
	t.Parallel()
	for _, r := range modelRegressions {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			g, err := parseGen(r.scenario)
			require.NoError(t, err)
			ch, err := exParseSchedule(r.schedule)
			require.NoError(t, err)
			ch.lenient = true
			res, err := exRunSchedule(context.Background(), memory.New(), g.scenario(r.name), ch, NewBatchOrchestrator, true)
			require.NoError(t, err)
			require.NoError(t, res.Violation, "%s (%s)\n%s", r.name, r.broke, res.Trace)
		})
	}
}

// Every generated scenario prints as a string that parses back to itself:
// a violation's scenario replays alone.
func TestGeneratedScenariosRoundTrip(t *testing.T) {
	t.Parallel()
	ready, stale := false, false
	for i := range 600 {
		g := genScenario(1, i)
		back, err := parseGen(g.String())
		require.NoError(t, err, g.String())
		require.Equal(t, g.String(), back.String())
		ready = ready || strings.Contains(g.String(), ".ready")
		stale = stale || regexp.MustCompile(`b\d=\w+,\w+`).MatchString(g.String())
	}
	require.True(t, ready, "no drive loop reports waiting_for_cutover")
	require.True(t, stale, "no seeded batch left a stale row")
}
