package applystate_test

import (
	"fmt"
	"testing"

	"github.com/statefold/statefold/applystate"
)

// BenchmarkRollout projects an apply over n children; the target is
// ≤ 20 µs and ≤ 2 allocs at n = 1000.
func BenchmarkRollout(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		children := make([]applystate.Child, n)
		for i := range children {
			switch i % 4 {
			case 0:
				children[i] = applystate.Child{State: applystate.Completed, Started: true}
			case 1:
				children[i] = applystate.Child{State: applystate.Running, Started: true}
			case 2:
				children[i] = applystate.Child{State: applystate.Pending}
			default:
				children[i] = applystate.Child{State: applystate.Failed, OnFailure: applystate.Continue, Started: true}
			}
		}
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var s applystate.State
			for b.Loop() {
				s = applystate.Rollout(children, applystate.Flags{})
			}
			if s != applystate.RunningDegraded {
				b.Fatalf("Rollout = %q", s)
			}
		})
	}
}

// BenchmarkDerive derives one state from 16 task states; the target is 0
// allocs.
func BenchmarkDerive(b *testing.B) {
	states := []applystate.State{
		applystate.Completed, applystate.Running, applystate.Pending, applystate.CatchingUp,
		applystate.Checksumming, applystate.PostChecksum, applystate.WaitingForCutover, applystate.Completed,
		applystate.Running, applystate.Pending, applystate.CuttingOver, applystate.Completed,
		applystate.WaitingForDeploy, applystate.RevertWindow, applystate.Running, applystate.Completed,
	}
	b.ReportAllocs()
	var s applystate.State
	for b.Loop() {
		s = applystate.Derive(states...)
	}
	if s != applystate.RevertWindow {
		b.Fatalf("Derive = %q", s)
	}
}
