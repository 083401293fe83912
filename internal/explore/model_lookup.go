package explore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// The lookups of the generated batchstate scenarios: their orchestrators
// declare one index, exIndex, that files a batch under keys derived from
// its state ("all", and its state's group), and file finished batches by
// day, so that every move a scenario makes changes or keeps keys. A
// "lookup" actor calls Lookup(key), a "finished" actor ListFinished over
// the whole scenario. The checks are batchstate's promises for them:
// Lookup returns exactly the batches whose row has the key — each had it,
// as returned, at some step of the call, and none that had it at every
// step is missing — and ListFinished likewise for finished batches.

// exIndex is the index the generated batchstate scenarios declare.
const exIndex = "group"

// The interval every "finished" actor lists: the scenario clock starts in
// it and stays in it.
var (
	exFinishedSince = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	exFinishedUntil = exFinishedSince.Add(300 * 24 * time.Hour)
)

// exGroupKeys returns the keys exIndex files a batch in state under: none
// for a state not of m (a tombstone), "all" and "done" for a terminal
// state, "all" and "g0" or "g1" for a live state, alternating in m's order.
func exGroupKeys(m batchstate.Machine, state string) []string {
	switch {
	case !m.Known(state):
		return nil
	case m.IsTerminal(state):
		return []string{"all", "done"}
	}
	return []string{"all", fmt.Sprintf("g%d", slices.Index(m.NonTerminal(), state)%2)}
}

// IndexOptions returns the options of the orchestrators of the generated
// batchstate scenarios: exIndex over m, and finished batches filed by day.
func IndexOptions(m batchstate.Machine) []batchstate.Option {
	return []batchstate.Option{
		batchstate.WithIndex(exIndex, func(b storage.Batch) []string { return exGroupKeys(m, b.State) }),
		batchstate.WithFinishedIndex(),
	}
}

// batchLooker is the part of the batchstate API the lookup actors call; an
// orchestrator without it is not asked.
type batchLooker interface {
	Lookup(ctx context.Context, queue, index, key string) ([]storage.Batch, error)
	ListFinished(ctx context.Context, queue string, since, until time.Time) ([]storage.Batch, error)
}

// exLookupObs is one Lookup (key) or ListFinished (key "") an actor made.
type exLookupObs struct {
	key   string
	got   []storage.Batch
	err   error
	steps []int
}

// lookup calls Lookup(key), or ListFinished when key is "", and records it.
func (e *exEnv) lookup(ctx context.Context, key string) error {
	l, ok := e.o.(batchLooker)
	if !ok {
		return nil
	}
	n := len(e.store.calls())
	var got []storage.Batch
	var err error
	if key == "" {
		got, err = l.ListFinished(ctx, e.queue, exFinishedSince, exFinishedUntil)
	} else {
		got, err = l.Lookup(ctx, e.queue, exIndex, key)
	}
	e.lookups = append(e.lookups, exLookupObs{key: key, got: got, err: err, steps: e.store.calls()[n:]})
	return err
}

// seedIndexed stores batch id as seed does when the scenario is not
// indexed. Else it stores it through an orchestrator with the scenario's
// indexes, created in the first state and moved through the others, and
// checks that this wrote the state rows seed would write: rows.
func (s *exSetup) seedIndexed(indexed bool, m batchstate.Machine, id string, states []string, rows []exSeedRow) error {
	if !indexed {
		return s.seed(id, states, rows...)
	}
	o, err := batchstate.New(s.store, s.store, m, append(IndexOptions(m), batchstate.WithClock(func() time.Time { return s.clock.read(0) }))...)
	if err != nil {
		return err
	}
	b, err := o.Create(s.ctx, storage.Batch{Queue: s.queue, ID: id, State: states[0], Payload: []byte(id)})
	for _, st := range states[1:] {
		if err == nil {
			b, err = o.Transition(s.ctx, b, st)
		}
	}
	if err != nil {
		return err
	}
	s.batches[id] = b
	for _, r := range rows {
		ms, err := s.store.ListMembers(s.ctx, s.queue, r.state)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(ms, func(x storage.Member) bool { return x.BatchID == id && x.Version == r.version }) {
			return &seedViolation{fmt.Errorf("I: seeding batch %q through Create and Transition left no row (%s, v%d)", id, r.state, r.version)}
		}
	}
	return nil
}

// seedViolation is a promise the orchestrator broke while a scenario's
// batches were seeded through it: the schedule reports it as a violation,
// not as a failure of its setup.
type seedViolation struct{ err error }

func (v *seedViolation) Error() string { return v.err.Error() }

// describeLookup names a "lookup" or "finished" actor.
func (a genBatchActor) describeLookup() (string, bool) {
	switch a.kind {
	case "lookup":
		return fmt.Sprintf("Lookup(%s, %s)", exIndex, a.states[0]), true
	case "finished":
		return "ListFinished", true
	}
	return "", false
}

// runLookup runs a "lookup" or "finished" actor.
func (a genBatchActor) runLookup(ctx context.Context, e *exEnv) error {
	if a.kind == "finished" {
		return e.lookup(ctx, "")
	}
	return e.lookup(ctx, a.states[0])
}

// looksUp reports whether an actor of g calls Lookup or ListFinished:
// only then do the orchestrators keep the indexes (they cost store calls,
// so schedules, everywhere else).
func (g *genBatch) looksUp() bool {
	return slices.ContainsFunc(g.actors, func(a genBatchActor) bool { return a.kind == "lookup" || a.kind == "finished" })
}

// drawLookup draws, one time in three, a lookup actor to add to g.
func (g *genBatch) drawLookup(pick func(n int) int) {
	switch pick(6) {
	case 0:
		g.actors = append(g.actors, genBatchActor{kind: "finished"})
	case 1:
		keys := []string{"all", "g0", "g1", "done"}
		g.actors = append(g.actors, genBatchActor{kind: "lookup", states: []string{keys[pick(len(keys))]}})
	}
}

// lookupRace makes g, one time in five when a batch is seeded, the shape
// of the races of Lookup: the batch moves, keeping or changing its group
// key, while a Lookup of that key reads and a Reconcile removes stale rows.
func (g *genBatch) lookupRace(pick func(n int) int) bool {
	if len(g.seeded) == 0 || pick(5) != 0 {
		return false
	}
	g.race = true
	b := g.seeded[0]
	to := g.moves[b.state][pick(len(g.moves[b.state]))]
	key := exGroupKeys(g.machine(), b.state)[1]
	g.actors = append(g.actors,
		genBatchActor{kind: "lookup", states: []string{key}},
		genBatchActor{kind: "move", id: b.id, states: []string{to}},
		genBatchActor{kind: "reconcile"})
	return true
}

// checkLookups checks every Lookup and ListFinished of actor a.
func (s *exSchedule) checkLookups(a *exActor) {
	m := s.sc.mach()
	for _, l := range a.env.lookups {
		what := fmt.Sprintf("actor %s's Lookup(%s)", a.letter, l.key)
		has := func(b exBatch) bool { return slices.Contains(exGroupKeys(m, b.state), l.key) }
		if l.key == "" {
			what = fmt.Sprintf("actor %s's ListFinished", a.letter)
			has = func(b exBatch) bool { return m.IsTerminal(b.state) }
		}
		s.checkKeyed(what, l, has)
	}
}

// checkKeyed checks one call that returned: every batch returned once,
// stored as returned with has true at some step of the call, and every
// batch with has true at every step returned.
func (s *exSchedule) checkKeyed(what string, l exLookupObs, has func(exBatch) bool) {
	if l.err != nil || len(l.steps) == 0 {
		return
	}
	first, last := l.steps[0], l.steps[len(l.steps)-1]
	window := s.hist[first-1 : last+1]
	what = fmt.Sprintf("%s over steps %d–%d", what, first, last)
	seen := make(map[string]bool)
	for _, b := range l.got {
		got := exBatch{b.State, b.Version, string(b.Payload)}
		switch {
		case seen[b.ID]:
			s.violation("lookup: %s returned batch %q twice", what, b.ID)
		case !s.isID(b.ID) || b.Queue != s.queue:
			s.violation("lookup: %s returned %q, which is no batch of the scenario's queue", what, exID(b.ID))
		case !has(got) || !slices.ContainsFunc(window, func(snap exSnap) bool { return snap.batches[b.ID] == got }):
			s.violation("lookup: %s returned batch %q as %s, which its row did not hold during the call", what, b.ID, got)
		}
		seen[b.ID] = true
	}
	for _, id := range s.sc.ids {
		always := !seen[id]
		var stored []string
		for _, snap := range window {
			b, ok := snap.batches[id]
			always = always && ok && has(b)
			stored = append(stored, b.String())
		}
		if always {
			s.violation("lookup: %s missed batch %q, whose row had the key throughout the call (%s)", what, id, strings.Join(slices.Compact(stored), " then "))
		}
	}
}
