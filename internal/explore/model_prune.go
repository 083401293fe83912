package explore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// The prunes of the generated batchstate scenarios: one scenario in eight
// (with the finished index on) has a "prune" actor that calls Prune over a
// window covering the scenario's clock, at a random point among the
// others, often beside a move of a seeded batch into a terminal state (a
// move in flight is in the finished index before its swap). The checks are
// the documented promises: Prune never changes a row that is not terminal
// at the time of its write (the step check IV allows a terminal batch to
// become a payload-less tombstone in these scenarios, and nothing else);
// after a Prune returns, every batch it pruned stays a tombstone, is
// neither listed nor found by Lookup, and a Create of its id fails with
// storage.ErrAlreadyExists.

// The window every "prune" actor prunes: the UTC day the scenario clock
// starts in (exClockStart), which its jumps never leave.
var (
	exPruneSince  = exClockStart.Truncate(24 * time.Hour)
	exPruneBefore = exPruneSince.Add(24 * time.Hour)
)

// exPruneLimit is the limit of every Prune: more than a scenario has.
const exPruneLimit = 10

// batchPruner is the part of the batchstate API the prune actors call; an
// orchestrator without it is not asked.
type batchPruner interface {
	Prune(ctx context.Context, queue string, since, before time.Time, limit int) (batchstate.PruneReport, error)
}

// exPruneObs is one Prune an actor made.
type exPruneObs struct {
	err   error
	steps []int
}

// prune calls Prune and records it.
func (e *exEnv) prune(ctx context.Context) error {
	p, ok := e.o.(batchPruner)
	if !ok {
		return nil
	}
	n := len(e.store.calls())
	_, err := p.Prune(ctx, e.queue, exPruneSince, exPruneBefore, exPruneLimit)
	e.prunes = append(e.prunes, exPruneObs{err: err, steps: e.store.calls()[n:]})
	return nil // a caller calls again later
}

// drawPrune draws, one time in eight, a prune actor to add to g, half of
// the time with a move of a seeded batch into a terminal state beside it.
func (g *genBatch) drawPrune(pick func(n int) int) {
	if pick(8) != 0 {
		return
	}
	if len(g.seeded) > 0 && pick(2) == 0 {
		b := g.seeded[pick(len(g.seeded))]
		for _, to := range g.moves[b.state] {
			if slices.Contains(g.terminal, to) {
				g.actors = append(g.actors, genBatchActor{kind: "move", id: b.id, states: []string{to}})
				break
			}
		}
	}
	g.actors = append(g.actors, genBatchActor{kind: "prune"})
}

// prunes reports whether an actor of g calls Prune.
func (g *genBatch) prunes() bool {
	return slices.ContainsFunc(g.actors, func(a genBatchActor) bool { return a.kind == "prune" })
}

// exPruneStep reports whether a step that turned batch p into b is a
// prune's: p terminal in the machine, b a tombstone without payload at a
// later version, in a scenario that prunes.
func (s *exSchedule) exPruneStep(p, b exBatch) bool {
	return s.sc.prunes && s.sc.mach().IsTerminal(p.state) && b.state == exAbandoned() && b.payload == "" && b.version > p.version
}

// exPruned reports whether batch id was pruned at some step: stored
// terminal, then a tombstone.
func (s *exSchedule) exPruned(id string) bool {
	for k := 1; k < len(s.hist); k++ {
		p, had := s.hist[k-1].batches[id]
		b, has := s.hist[k].batches[id]
		if had && has && s.exPruneStep(p, b) {
			return true
		}
	}
	return false
}

// checkPrunes checks, after the actors returned, every batch a Prune of
// actor a pruned by the time it returned: still a tombstone, neither
// listed by a List of every state nor found by Lookup of any key, and a
// Create of its id fails with storage.ErrAlreadyExists.
func (s *exSchedule) checkPrunes(a *exActor) error {
	m := s.sc.mach()
	for _, pr := range a.env.prunes {
		if pr.err != nil || len(pr.steps) == 0 {
			continue
		}
		last := pr.steps[len(pr.steps)-1]
		what := fmt.Sprintf("actor %s's Prune over steps %d–%d", a.letter, pr.steps[0], last)
		o, err := s.factory(OrchestratorConfig{Store: s.raw, Machine: m, Grace: exGrace, Indexed: true,
			Logger: s.log.logger().With("actor", "prune-check"), Clock: func() time.Time { return s.clock.read(0) }})
		if err != nil {
			return fmt.Errorf("build the prune-checking orchestrator: %w", err)
		}
		for _, id := range s.sc.ids {
			if b, ok := s.hist[last].batches[id]; !ok || b.state != exAbandoned() || !s.exPruned(id) {
				continue
			}
			listed, err := o.List(s.ctx, s.queue, m.NonTerminal()...)
			if err != nil {
				return err
			}
			if slices.ContainsFunc(listed, func(b storage.Batch) bool { return b.ID == id }) {
				s.violation("prune: after %s pruned batch %q, a List of every live state returns it", what, id)
			}
			if l, ok := o.(batchLooker); ok {
				for _, key := range []string{"all", "done", "g0", "g1"} {
					got, err := l.Lookup(s.ctx, s.queue, exIndex, key)
					if err != nil {
						return err
					}
					if slices.ContainsFunc(got, func(b storage.Batch) bool { return b.ID == id }) {
						s.violation("prune: after %s pruned batch %q, Lookup(%s) returns it", what, id, key)
					}
				}
			}
			if _, err := o.Create(s.ctx, storage.Batch{Queue: s.queue, ID: id, State: m.NonTerminal()[0], Payload: []byte(id)}); !errors.Is(err, storage.ErrAlreadyExists) {
				s.violation("prune: after %s pruned batch %q, a Create of its id returned %v, want storage.ErrAlreadyExists", what, id, err)
			}
		}
	}
	return nil
}

// The generated applystate scenarios prune too: one in eight (none drawn
// in the shape of a race) has a "prune" actor that calls Prune of the
// scenario's apply with a cutoff after the scenario's clock. Its promises:
// an apply's operations are deleted only when the apply was terminal (the
// step check's "deleted operation" holds for every other step), and once a
// Prune returned with the apply pruned, a CreatePlan of its id fails with
// storage.ErrAlreadyExists. Rows deleted from a terminal apply are carried
// forward in the spec's view (spPrunedView): a terminal apply's rows never
// change, so every other promise reads them as they were.

// genPrune draws, one time in eight, a prune actor to add to g.
func genPrune(g *genApply, rng *rand.Rand) *genApply {
	if g.race || rng.IntN(8) != 0 {
		return g
	}
	g.actors = append(g.actors, genActor{kind: "prune"})
	return g
}

// prunes reports whether an actor of g calls Prune or PruneFinished.
func (g *genApply) prunes() bool {
	return slices.ContainsFunc(g.actors, func(a genActor) bool { return a.kind == "prune" || a.kind == "finished" })
}

// pruneCall runs a prune actor's Prune of the apply and records the call.
func (e *exEnv) pruneCall(ctx context.Context) error {
	n := len(e.store.calls())
	_, err := e.p.Prune(ctx, []string{e.queue}, exPruneBefore)
	e.gen = append(e.gen, genCall{actor: e.letter, kind: "prune", err: err, steps: e.store.calls()[n:]})
	return genEnd(err)
}

// spPrunedView is next as the spec reads it in a scenario that prunes:
// the rows deleted from an apply terminal before the step carried forward,
// as prev or, failing it, the latest snapshot holding them has them.
func (s *exSchedule) spPrunedView(prev, next exApplySnap) exApplySnap {
	g := s.sc.gen
	if !g.prunes() || !spTerminalApply(prev) {
		return next
	}
	out, cloned := next, false
	for _, id := range g.planIDs() {
		r, ok := prev.ops[id]
		for k := len(s.hist) - 1; !ok && k >= 0; k-- {
			r, ok = s.hist[k].ap.ops[id]
		}
		if _, has := next.ops[id]; ok && !has {
			if !cloned {
				out.ops, cloned = make(map[string]exOpView, len(prev.ops)), true
				maps.Copy(out.ops, next.ops)
			}
			out.ops[id] = r
		}
	}
	return out
}

// spPrunedHistory applies spPrunedView along hist.
func (s *exSchedule) spPrunedHistory(hist []exApplySnap) {
	for k := 1; k < len(hist); k++ {
		hist[k] = s.spPrunedView(hist[k-1], hist[k])
	}
}

// checkApplyPrunes checks that once a Prune returned and the apply is
// pruned (terminal, without operations), a CreatePlan of its id fails with
// storage.ErrAlreadyExists.
func (s *exSchedule) checkApplyPrunes(calls []genCall, last exApplySnap) error {
	g := s.sc.gen
	if !slices.ContainsFunc(calls, func(c genCall) bool { return c.kind == "prune" && c.err == nil }) ||
		!spTerminalApply(last) || len(last.ops) > 0 {
		return nil
	}
	p, err := applystate.NewProjector(s.raw, s.raw, applystate.WithClock(func() time.Time { return s.clock.read(0) }),
		applystate.WithLogger(s.log.logger().With("actor", "prune-check")))
	if err != nil {
		return err
	}
	plan := applystate.Plan{Apply: storage.Apply{ID: s.queue}}
	for _, o := range g.ops {
		plan.Operations = append(plan.Operations, storage.Operation{ID: o.id, Seq: o.seq, Deployment: "dep-" + o.id,
			Group: o.group, Finalizer: o.finalizer, OnFailure: string(o.policy)})
	}
	if _, _, err := p.CreatePlan(s.ctx, plan); !errors.Is(err, storage.ErrAlreadyExists) {
		s.violation("prune: the apply was pruned, yet a CreatePlan of its id returned %v, want storage.ErrAlreadyExists", err)
	}
	return nil
}
