package applystate_test

import (
	"testing"

	"github.com/statefold/statefold/applystate"
)

// pick maps fuzz bytes onto the vocabulary.
func pick(b byte) applystate.State {
	all := applystate.States()
	return all[int(b)%len(all)]
}

// FuzzDerive checks Derive's properties: every state is a fixed point and
// appending the result changes nothing.
func FuzzDerive(f *testing.F) {
	f.Add([]byte{0, 13}, byte(3))
	f.Add([]byte{10, 0, 4}, byte(8))
	f.Add([]byte{}, byte(0))
	f.Fuzz(func(t *testing.T, raw []byte, one byte) {
		s := pick(one)
		if got := applystate.Derive(s); got != s {
			t.Fatalf("Derive(%q) = %q", s, got)
		}
		xs := make([]applystate.State, len(raw))
		for i, b := range raw {
			xs[i] = pick(b)
		}
		d := applystate.Derive(xs...)
		if again := applystate.Derive(append(xs, d)...); again != d {
			t.Fatalf("Derive(%v) = %q but with it appended %q", xs, d, again)
		}
	})
}

// FuzzRollout checks Rollout's properties: a terminal result implies no
// active child; a failed child never yields completed; without a pause
// policy the order of the children does not matter.
func FuzzRollout(f *testing.F) {
	f.Add([]byte{14, 0, 13, 1}, []byte{1, 0, 2, 0}, byte(0))
	f.Add([]byte{16, 1}, []byte{0, 0}, byte(2))
	f.Fuzz(func(t *testing.T, states, policies []byte, flags byte) {
		children := make([]applystate.Child, len(states))
		pausePolicy := false
		for i, b := range states {
			c := applystate.Child{State: pick(b)}
			if i < len(policies) {
				c.OnFailure = []applystate.Policy{applystate.Halt, applystate.Continue, applystate.Pause, ""}[policies[i]%4]
				c.Started = policies[i]&4 != 0
				c.Orphaned = policies[i]&8 != 0 && c.State == applystate.Pending
			}
			if c.State != applystate.Pending && c.State != applystate.Stopped {
				c.Started = true
			}
			pausePolicy = pausePolicy || (c.OnFailure == applystate.Pause && c.State == applystate.Failed)
			children[i] = c
		}
		fl := applystate.Flags{PauseReleased: flags&1 != 0, StopRequested: flags&2 != 0}
		got := applystate.Rollout(children, fl)
		anyFailed := false
		for _, c := range children {
			anyFailed = anyFailed || c.State == applystate.Failed
			active := !c.State.Terminal() && c.State != applystate.Pending && !c.Orphaned
			if got.Terminal() && active {
				t.Fatalf("Rollout(%+v) = %q while %q is active", children, got, c.State)
			}
		}
		if anyFailed && got == applystate.Completed {
			t.Fatalf("Rollout(%+v) = completed with a failed child", children)
		}
		if !pausePolicy || fl.PauseReleased {
			rev := make([]applystate.Child, len(children))
			for i, c := range children {
				rev[len(children)-1-i] = c
			}
			if back := applystate.Rollout(rev, fl); back != got {
				t.Fatalf("order matters without a pause: %q vs %q for %+v", got, back, children)
			}
		}
	})
}
