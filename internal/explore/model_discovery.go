package explore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
)

// The open-applies index in the generated applystate scenarios: one in
// four draws keeps it (applystate.WithDiscovery) and adds a ListOpen or a
// Sweep actor — sometimes both — at random points of the schedule; half of
// those not drawn with a CreatePlan get one. The
// specification, from docs/design.md ("Discovery of open applies and the
// sweeper"): an apply is listed from before it can be driven until it is
// terminal, so a ListOpen never misses an apply that was non-terminal
// throughout the call and whose CreatePlan returned before the call, and
// never returns one that was terminal throughout (nor anything that is no
// apply); stale rows are harmless and a ListOpen cleans them.

// genDoneSuffix names the second apply a discovery scenario seeds: terminal
// from the start, its index row left behind (a removal that failed).
const genDoneSuffix = "-done"

// genDiscover draws whether g keeps the open-applies index and, if so,
// its ListOpen and Sweep actors (drawn after everything else, so the rest
// of the scenario is the one the seed gave before).
func genDiscover(g *genApply, rng *rand.Rand) *genApply {
	if rng.IntN(4) != 0 {
		return g
	}
	g.discover = true
	if !g.plan && !g.race && rng.IntN(2) == 0 {
		// The apply is created by a CreatePlan that the ListOpen and
		// Sweep actors meet.
		g.plan = true
		for i := range g.ops {
			g.ops[i].init = spPending
		}
		g.actors = append([]genActor{{kind: "plan"}}, g.actors...)
	}
	switch rng.IntN(4) {
	case 0:
		g.actors = append(g.actors, genActor{kind: "sweep"})
	case 1:
		g.actors = append(g.actors, genActor{kind: "list"}, genActor{kind: "sweep"})
	default:
		g.actors = append(g.actors, genActor{kind: "list"})
	}
	return genFinished(g)
}

// genDiscoveryOptions are the options of an actor's Projector in a
// discovery scenario: the index under the scenario's id, one shard, the
// schedule's grace, one apply read at a time.
func genDiscoveryOptions(members storage.MembershipStore, namespace string) []applystate.Option {
	return []applystate.Option{applystate.WithDiscovery(members, namespace, 1), applystate.WithDiscoveryGrace(exGrace),
		applystate.WithListConcurrency(1)}
}

// genIndexRow is the index row of apply id in namespace, as docs/design.md
// documents it (one shard: shard 0), at version.
func genIndexRow(namespace, id string, version int64, at time.Time) storage.Member {
	return storage.Member{Queue: namespace + ":open:0", State: "\x00statefold:open", BatchID: id, Version: version, AddedAt: at}
}

// seedDiscovery files the seeded apply (a plan scenario has none yet) as
// a CreatePlan that returned would have, and seeds a terminal apply whose
// row stayed behind.
func (s *exSetup) seedDiscovery(g *genApply, id string) error {
	if !g.discover {
		return nil
	}
	now := s.clock.read(0).Truncate(time.Microsecond)
	if !g.plan {
		if err := s.store.AddMember(s.ctx, genIndexRow(id, id, 2, now)); err != nil {
			return err
		}
	}
	done := storage.Apply{ID: id + genDoneSuffix, State: string(spCompleted), StartedAt: now, CompletedAt: now, CreatedAt: now, UpdatedAt: now}
	if _, err := s.store.CreateApply(s.ctx, done); err != nil {
		return err
	}
	if err := s.store.AddMember(s.ctx, genIndexRow(id, done.ID, 2, now)); err != nil {
		return err
	}
	return s.seedFinished(g, id)
}

// discoveryCall runs a ListOpen or a Sweep actor and records the call.
func (e *exEnv) discoveryCall(ctx context.Context, kind string) error {
	n := len(e.store.calls())
	c := genCall{actor: e.letter, kind: kind}
	if kind == "list" {
		open, err := e.p.ListOpen(ctx)
		c.err = err
		for _, a := range open {
			c.open = append(c.open, a.ID)
		}
	} else {
		_, c.err = e.p.Sweep(ctx, applystate.WithIdleAfter(time.Microsecond))
		if errors.Is(c.err, applystate.ErrAmbiguous) {
			e.applyObs.ambiguous = true
		}
	}
	c.steps = e.store.calls()[n:]
	e.gen = append(e.gen, c)
	return genEnd(c.err)
}

// checkDiscovery holds every ListOpen of the schedule, and a last one with
// no fault, to the specification.
func (s *exSchedule) checkDiscovery(calls []genCall) error {
	g := s.sc.gen
	if !g.discover {
		return nil
	}
	created := genCreated(g, calls)
	for _, c := range calls {
		if c.kind == "list" && c.err == nil && len(c.steps) > 0 {
			s.checkListed(c, c.steps[0], c.steps[len(c.steps)-1], created)
		}
	}
	p, err := applystate.NewProjector(s.raw, s.raw, append(genDiscoveryOptions(s.raw, s.queue),
		applystate.WithClock(func() time.Time { return s.clock.read(0) }), applystate.WithLogger(s.log.logger().With("actor", "list")))...)
	if err != nil {
		return err
	}
	open, err := p.ListOpen(s.ctx)
	if err != nil {
		s.violation("discovery: the final ListOpen, with no fault, failed: %v", err)
		return nil
	}
	final := genCall{kind: "list", open: make([]string, 0, len(open))}
	for _, a := range open {
		final.open = append(final.open, a.ID)
	}
	n := len(s.hist) - 1
	s.checkListed(final, n+1, n, created)
	rows, err := s.raw.ListMembers(s.ctx, s.queue+":open:0", "\x00statefold:open")
	if err != nil {
		return err
	}
	if slices.ContainsFunc(rows, func(r storage.Member) bool { return r.BatchID == s.queue+genDoneSuffix }) {
		s.violation("discovery: a ListOpen with no fault left the row of the terminal apply %s", s.queue+genDoneSuffix)
	}
	return nil
}

// genCreated is the step after which a CreatePlan of the apply had
// returned success: 0 for a seeded apply, -1 for none.
func genCreated(g *genApply, calls []genCall) int {
	if !g.plan {
		return 0
	}
	created := -1
	for _, c := range calls {
		if c.kind == "plan" && c.err == nil && len(c.steps) > 0 {
			if last := c.steps[len(c.steps)-1]; created < 0 || last < created {
				created = last
			}
		}
	}
	return created
}

// checkListed checks what the ListOpen call c, whose store calls ran at
// steps first to last, returned: the apply open throughout the call and
// created before it is listed; the apply terminal throughout is not, nor
// the seeded terminal apply, nor any other id.
func (s *exSchedule) checkListed(c genCall, first, last, created int) {
	open, terminal := true, true
	for k := first - 1; k <= last; k++ {
		h := s.hist[k].ap
		open = open && h.apply != nil && !spTerminalApply(h)
		terminal = terminal && spTerminalApply(h)
	}
	listed := slices.Contains(c.open, s.queue)
	switch {
	case open && created >= 0 && created < first && !listed:
		s.violation("discovery: ListOpen (steps %d–%d) missed the apply, open throughout the call and created by a CreatePlan that returned at step %d", first, last, created)
	case listed && terminal:
		s.violation("discovery: ListOpen (steps %d–%d) returned the apply, terminal throughout the call", first, last)
	}
	for _, id := range c.open {
		if id != s.queue {
			s.violation("discovery: ListOpen (steps %d–%d) returned %q, which is no open apply of the scenario", first, last, id)
		}
	}
}

// discoveryLabel describes a ListOpen or Sweep actor.
func discoveryLabel(kind string) string {
	return map[string]string{"list": "ListOpen", "sweep": fmt.Sprintf("Sweep (idle after %s)", time.Microsecond)}[kind]
}

// genDiscoverRace replaces, in one scenario of forty not race-shaped
// (after every other draw of it), the scenario drawn with one in the
// shape of the discovery race: a CreatePlan held between filing the apply
// and creating it while the clock passes the grace and a whole ListOpen
// runs, which removes the row of what is no apply yet; the CreatePlan then
// returns, and the apply must be listed from then on. A plan of two or
// three operations; a CreatePlan, a ListOpen and, half the time, a drive
// loop, in a random order.
func genDiscoverRace(g *genApply, rng *rand.Rand) *genApply {
	if g.race || rng.IntN(40) != 0 {
		return g
	}
	r := &genApply{race: true, plan: true, discover: true}
	for i := range 2 + rng.IntN(2) {
		r.ops = append(r.ops, genOp{id: string(rune('A' + i)), seq: int64(i), policy: genPolicies[rng.IntN(len(genPolicies))], init: spPending})
	}
	r.actors = []genActor{{kind: "plan"}, {kind: "list"}}
	if rng.IntN(2) == 0 {
		r.actors = append(r.actors, genActor{kind: "loop", op: "A", final: spCompleted, waits: 1})
	}
	rng.Shuffle(len(r.actors), func(i, j int) { r.actors[i], r.actors[j] = r.actors[j], r.actors[i] })
	return r
}
