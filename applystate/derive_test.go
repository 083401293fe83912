package applystate_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
)

type S = applystate.State

const (
	pe = applystate.Pending
	ru = applystate.Running
	rd = applystate.RunningDegraded
	pa = applystate.Paused
	cu = applystate.CatchingUp
	cs = applystate.Checksumming
	pc = applystate.PostChecksum
	wd = applystate.WaitingForDeploy
	wc = applystate.WaitingForCutover
	rc = applystate.Recovering
	co = applystate.CuttingOver
	rw = applystate.RevertWindow
	rv = applystate.Reverting
	cp = applystate.Completed
	fa = applystate.Failed
	fr = applystate.FailedRetryable
	st = applystate.Stopped
	ca = applystate.Cancelled
	re = applystate.Reverted
)

func TestDeriveRules(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rule string
		in   []S
		want S
	}{
		{"0 none", nil, pe},
		{"1 failed beats all", []S{cp, ru, fr, ca, st, fa}, fa},
		{"2 failed_retryable", []S{cp, ca, fr}, fr},
		{"3 cancelled", []S{st, ca, ru}, ca},
		{"4 stopped", []S{st, rv, ru}, st},
		{"5 reverting", []S{rv, re, cp}, rv},
		{"6 reverted", []S{re, pa, cp}, re},
		{"6a paused", []S{pa, rd, ru}, pa},
		{"6b running_degraded", []S{rd, cp, pe}, rd},
		{"7 all completed", []S{cp, cp}, cp},
		{"8 recovering", []S{rc, co, ru}, rc},
		{"9 cutting_over", []S{co, wc, cp}, co},
		{"9 not with pending", []S{co, pe}, ru},
		{"9 not with running", []S{co, ru}, ru},
		{"9 not with post-copy", []S{co, cs}, cs},
		{"10 waiting_for_cutover", []S{wc, cp, wc}, wc},
		{"10 not with others", []S{wc, pe}, pe},
		{"11 waiting_for_deploy", []S{wd, cp}, wd},
		{"11 mixed waits", []S{wd, wc}, pe},
		{"12 revert_window", []S{rw, ru, pe}, rw},
		{"13 running", []S{ru, pe, cu}, ru},
		{"14 pending and post-copy", []S{pe, pc}, ru},
		{"14 pending and cutting_over", []S{pe, co}, ru},
		{"15 catching_up", []S{cu, cs, pc}, cu},
		{"16 checksumming", []S{cs, pc, cp}, cs},
		{"17 post_checksum", []S{pc, cp}, pc},
		{"18 pending", []S{pe, cp}, pe},
		{"normalized case and aliases", []S{"COMPLETE", "Completed"}, cp},
		{"recovering_cutover", []S{"recovering_cutover", ru}, rc},
		{"unknown counts as pending", []S{"bogus", pc}, ru},
	} {
		require.Equal(t, c.want, applystate.Derive(c.in...), c.rule)
	}
}

func TestDeriveProperties(t *testing.T) {
	t.Parallel()
	all := applystate.States()
	require.Len(t, all, 19)
	for _, s := range all {
		require.Equal(t, s, applystate.Derive(s), "fixed point")
	}
	// Every pair and triple: appending the result changes nothing.
	for _, a := range all {
		for _, b := range all {
			for _, c := range all {
				xs := []S{a, b, c}
				d := applystate.Derive(xs...)
				require.Equal(t, d, applystate.Derive(append(xs, d)...), "%v", xs)
			}
		}
	}
}

func TestDeriveAllocs(t *testing.T) {
	xs := []S{cp, ru, pe, cu, cs, pc, wc, cp, ru, pe, co, cp, wd, rw, ru, cp}
	require.Zero(t, testing.AllocsPerRun(100, func() { applystate.Derive(xs...) }))
}

func TestTerminalSettled(t *testing.T) {
	t.Parallel()
	var terminal, settled []S
	for _, s := range applystate.States() {
		if s.Terminal() {
			terminal = append(terminal, s)
		}
		if s.Settled() {
			settled = append(settled, s)
		}
	}
	require.ElementsMatch(t, []S{cp, fa, st, ca, re}, terminal)
	require.ElementsMatch(t, []S{cp, fa, ca, re}, settled)
	require.False(t, fr.Terminal())
}

func TestNormalizeParse(t *testing.T) {
	t.Parallel()
	require.Equal(t, cp, applystate.Normalize("complete"))
	require.Equal(t, cp, applystate.Normalize(" Completed "))
	require.Equal(t, rc, applystate.Normalize("RECOVERING_CUTOVER"))
	require.Equal(t, pe, applystate.Normalize("what"))
	require.Equal(t, pe, applystate.Normalize(""))
	s, err := applystate.Parse("Running_Degraded")
	require.NoError(t, err)
	require.Equal(t, rd, s)
	_, err = applystate.Parse("what")
	require.ErrorIs(t, err, storage.ErrInvalid)
	require.ErrorContains(t, err, `"what"`)
	p, err := applystate.ParsePolicy("")
	require.NoError(t, err)
	require.Equal(t, applystate.Halt, p)
	p, err = applystate.ParsePolicy("Pause")
	require.NoError(t, err)
	require.Equal(t, applystate.Pause, p)
	_, err = applystate.ParsePolicy("later")
	require.ErrorIs(t, err, storage.ErrInvalid)
}
