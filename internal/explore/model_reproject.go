package explore

import (
	"maps"
	"math/rand/v2"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/faultstore"
)

// A Reproject repairs a crash between a row write and the apply write
// (applystate's documentation): once one returned, the apply is what the
// rows give, and no write computed from an older listing lands over it
// while the rows stay as it listed them. The race that breaks this (the
// applystate issue's hole 2) needs a drive loop held at its apply write,
// another loop that writes its row and crashes before its apply write, and
// a Reproject that runs wholly in between: a shape of its own.

// genReprojectRace replaces, in one scenario of forty, the scenario drawn
// (after every other draw of it) with one in the shape of that race: a
// loop of A that reports waiting_for_cutover, a loop of B, whose work was
// waiting for its cutover, that reports running and crashes between its
// row write and its apply write, and a Reproject, in a random order, over
// a plan of two operations and perhaps a third one completed.
func genReprojectRace(g *genApply, rng *rand.Rand) *genApply {
	if g.race || rng.IntN(40) != 0 {
		return g
	}
	r := &genApply{race: true}
	for i := range 2 + rng.IntN(2) {
		r.ops = append(r.ops, genOp{id: string(rune('A' + i)), seq: int64(i), policy: genPolicies[rng.IntN(len(genPolicies))], init: spPending})
	}
	// A third operation is done already: one still to start would keep
	// the rollout running whatever A and B report.
	if len(r.ops) == 3 {
		r.ops[2].init = spCompleted
	}
	r.ops[1].init = spReady
	r.actors = []genActor{
		{kind: "loop", op: "A", final: []spState{spCompleted, spFailed}[rng.IntN(2)], ready: true},
		// Its 6th to 8th store call: the apply read, the listing or the
		// apply write after its row write.
		{kind: "loop", op: "B", final: spCompleted, crash: 6 + rng.IntN(3)},
		{kind: "reproject"},
	}
	rng.Shuffle(len(r.actors), func(i, j int) { r.actors[i], r.actors[j] = r.actors[j], r.actors[i] })
	return r
}

// checkReprojectRepairs reports a write that changed the apply's state to
// something the rows do not give after a Reproject returned (with no
// error, decided) while no row moved and the stop flag stayed as that
// Reproject's last listing saw them. hist is the apply after every step.
func (s *exSchedule) checkReprojectRepairs(g *genApply, calls []genCall, hist []exApplySnap) {
	for _, c := range calls {
		if c.kind != "reproject" || c.err != nil || c.undet || len(c.steps) == 0 {
			continue
		}
		listed := -1
		for _, k := range c.steps {
			if k-1 < len(s.done) && s.done[k-1].call.method == faultstore.ListOperations {
				listed = k
			}
		}
		if listed < 0 || hist[listed].apply == nil || spTerminalApply(hist[listed]) {
			continue
		}
		base := hist[listed]
		for k := c.steps[len(c.steps)-1] + 1; k < len(hist); k++ {
			at, prev := hist[k], hist[k-1]
			if at.apply == nil || at.apply.stop != base.apply.stop || spRowsMoved(base, at) {
				break
			}
			if at.apply.state == prev.apply.state {
				continue
			}
			if want := spApplyOf(g.ops, at); applystate.Normalize(at.apply.state) != want {
				s.violation("reproject: %s returned, and with no row moved since it listed them, step %d moved the apply from %s to %s while the rows give %s (%s)",
					c, k, prev.apply.state, at.apply.state, want, at)
				return
			}
		}
	}
}

// spRowsMoved reports whether a row differs between a and b in anything a
// projection reads (not its version or acknowledgement).
func spRowsMoved(a, b exApplySnap) bool {
	return !maps.EqualFunc(a.ops, b.ops, func(x, y exOpView) bool {
		return x.state == y.state && x.policy == y.policy && x.claimed == y.claimed && x.msg == y.msg &&
			x.started.Equal(y.started) && x.completed.Equal(y.completed) && x.released.Equal(y.released)
	})
}
