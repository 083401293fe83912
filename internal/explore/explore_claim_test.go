package explore

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/faultstore"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// The history make netfaults found in StopDrivePending on MariaDB: B's
// drive loop claims its start and writes the grant, whose response is lost
// (~), and the read-back of the row fails too, so Drive returns an error
// and answers no Proceed; a Stop runs; B's retry reads the claim granted
// and a stop requested and is told DoNotStart; A completes. The apply stays
// running over B's granted claim, which its deployment — told DoNotStart
// after a stop — must report stopped (docs/design.md, "A granted start is
// never taken back"). A call failed, so this is no violation of "every
// actor succeeded, yet the apply keeps a claimed start".
func TestClaimLeftByAFailedCallIsNoViolation(t *testing.T) {
	t.Parallel()
	sc, err := exScenarioNamed("StopDrivePending")
	require.NoError(t, err)
	mem := memory.New()
	actors := faultstore.New(mem)
	// b's second row read is the read-back of its lost grant.
	_, err = actors.Inject(faultstore.Fault{Mode: faultstore.FailBefore, Call: 2, Methods: []faultstore.Method{faultstore.GetOperation},
		Err: fmt.Errorf("the connection was lost: %w", storage.ErrUnavailable)})
	require.NoError(t, err)
	ch, err := exParseSchedule("b b b b b b b b~ b a")
	require.NoError(t, err)
	res, err := exRunSchedule(context.Background(), exPair{Store: mem, actors: actors}, sc, ch, NewBatchOrchestrator, true)
	require.NoError(t, err)
	require.Contains(t, res.Trace, "UpdateOperation", res.Trace)
	require.Regexp(t, `b   GetOperation\([^)]*/B\) → error: .*the connection was lost`, res.Trace)
	require.Regexp(t, `b   returned: ok`, res.Trace)
	require.NoError(t, res.Violation, res.Trace)
}

// The claim check: a claimed start left on an open apply is a violation
// when every call of every actor succeeded, and none once a call failed
// (its write may have landed unknown to its caller).
func TestClaimCheck(t *testing.T) {
	t.Parallel()
	snap := exApplySnap{apply: &exApplyView{state: "running", stop: true, version: 4},
		ops: map[string]exOpView{"A": {state: "completed", acked: true}, "B": {state: "pending", claimed: true, acked: true}}}
	s := &exSchedule{}
	s.checkClaims(snap, false)
	require.Len(t, s.errs, 1)
	require.ErrorContains(t, s.errs[0], "keeps B's claimed start")

	s = &exSchedule{}
	s.checkClaims(snap, true)
	require.Empty(t, s.errs, "a call failed")

	snap.apply.state = "stopped"
	s = &exSchedule{}
	s.checkClaims(snap, false)
	require.Empty(t, s.errs, "a terminal apply may keep a claim, inert")
}
