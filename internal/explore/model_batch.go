package explore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/statefold/statefold/batchstate"
)

// The generated batchstate scenarios of the model check: a random machine
// (cycles among its live states allowed), a few batches stored in it, and
// 2–3 actors that create, move, list and reconcile, some with a skewed
// clock, while the schedule may jump the clock past the grace and the
// reconcile lease. Their checks are batchstate's promises I–V and "a
// Create returns an error or its batch is listed" (see [Explore]).

// genBatch is a generated batchstate scenario.
type genBatch struct {
	live, terminal []string
	moves          map[string][]string
	seeded         []genSeed
	actors         []genBatchActor
	race           bool // the shape of a known race: a longer search
}

// genSeed is a batch stored before the actors start; from, when set, is
// a live state it left earlier, whose index row is still there (a stale
// row for Reconcile to remove).
type genSeed struct{ id, state, from string }

// genBatchActor is one actor: kind "create" (id, state), "move" (id,
// targets, one Transition per target the machine allows from where the
// batch is then), "list" (states), "reconcile".
type genBatchActor struct {
	kind    string
	id      string
	states  []string
	skewMin int // the actor's clock skew, in minutes
}

func (g *genBatch) machine() batchstate.Machine {
	m := batchstate.Machine{States: append(slices.Clone(g.live), g.terminal...), Terminal: slices.Clone(g.terminal),
		Transitions: map[string][]string{}}
	for from, to := range g.moves {
		m.Transitions[from] = slices.Clone(to)
	}
	return m
}

// genBatchScenario draws a scenario.
func genBatchScenario(rng *rand.Rand) *genBatch {
	g := &genBatch{moves: map[string][]string{}}
	for i := range 2 + rng.IntN(3) {
		g.live = append(g.live, fmt.Sprintf("s%d", i))
	}
	for i := range 1 + rng.IntN(2) {
		g.terminal = append(g.terminal, fmt.Sprintf("t%d", i))
	}
	all := append(slices.Clone(g.live), g.terminal...)
	for _, from := range g.live {
		for _, to := range all {
			if to != from && rng.IntN(2) == 0 {
				g.moves[from] = append(g.moves[from], to)
			}
		}
		if len(g.moves[from]) == 0 {
			g.moves[from] = []string{all[rng.IntN(len(all))]}
			if g.moves[from][0] == from {
				g.moves[from][0] = g.terminal[0]
			}
		}
	}
	pick := func(states []string) string { return states[rng.IntN(len(states))] }
	for i := range rng.IntN(3) {
		sd := genSeed{id: fmt.Sprintf("b%d", i), state: pick(g.live)}
		if from := pick(g.live); from != sd.state && slices.Contains(g.moves[from], sd.state) && rng.IntN(2) == 0 {
			sd.from = from
		}
		g.seeded = append(g.seeded, sd)
	}
	ids := func() []string {
		var out []string
		for _, s := range g.seeded {
			out = append(out, s.id)
		}
		for _, a := range g.actors {
			if a.kind == "create" {
				out = append(out, a.id)
			}
		}
		return out
	}
	if stale := slices.IndexFunc(g.seeded, func(s genSeed) bool { return s.from != "" }); stale >= 0 && rng.IntN(3) == 0 {
		// The shape of the races of Reconcile: two of them while a List
		// reads, over a batch that left a stale row behind.
		g.race = true
		g.actors = append(g.actors,
			genBatchActor{kind: "reconcile"},
			genBatchActor{kind: "reconcile"},
			genBatchActor{kind: "list", states: []string{g.seeded[stale].from, g.seeded[stale].state}})
		return g
	}
	if len(g.seeded) > 0 && rng.IntN(4) == 0 {
		// The shape of the races of List: a batch moves between the
		// states a List asks for while a Reconcile removes stale rows.
		g.race = true
		b := g.seeded[0]
		to := pick(g.live)
		if len(g.moves[b.state]) > 0 {
			to = g.moves[b.state][rng.IntN(len(g.moves[b.state]))]
		}
		g.actors = append(g.actors,
			genBatchActor{kind: "list", states: slices.Clone(g.live)},
			genBatchActor{kind: "move", id: b.id, states: []string{to}},
			genBatchActor{kind: "reconcile"})
		return g
	}
	if g.lookupRace(rng.IntN) {
		return g
	}
	for n := 2 + rng.IntN(2); len(g.actors) < n; {
		a := genBatchActor{}
		if rng.IntN(4) == 0 {
			a.skewMin = []int{-3, 3, 11}[rng.IntN(3)]
		}
		switch r := rng.IntN(10); {
		case r < 3:
			a.kind, a.id, a.states = "create", fmt.Sprintf("c%d", len(g.actors)), []string{pick(g.live)}
		case r < 6 && len(ids()) > 0:
			a.kind, a.id = "move", pick(ids())
			for range 1 + rng.IntN(2) {
				a.states = append(a.states, pick(all))
			}
		case r < 9:
			a.kind = "list"
			for _, s := range g.live {
				if rng.IntN(2) == 0 {
					a.states = append(a.states, s)
				}
			}
			if len(a.states) == 0 {
				a.states = []string{pick(g.live)}
			}
		default:
			a.kind = "reconcile"
		}
		if a.kind != "" {
			g.actors = append(g.actors, a)
		}
	}
	g.drawLookup(rng.IntN)
	g.drawPrune(rng.IntN)
	return g
}

// String encodes the scenario; parseGenBatch reads it back.
//
//	batch s0,s1 t0 s0>s1,t0 s1>s0 ; b0=s1 b1=s0,s1 ; create.c0.s0 move.b0.s0.t0 list.s0.s1~3 reconcile
func (g *genBatch) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "batch %s %s", strings.Join(g.live, ","), strings.Join(g.terminal, ","))
	for _, from := range g.live {
		fmt.Fprintf(&b, " %s>%s", from, strings.Join(g.moves[from], ","))
	}
	b.WriteString(" ;")
	for _, s := range g.seeded {
		if s.from != "" {
			fmt.Fprintf(&b, " %s=%s,%s", s.id, s.from, s.state)
			continue
		}
		fmt.Fprintf(&b, " %s=%s", s.id, s.state)
	}
	b.WriteString(" ;")
	for _, a := range g.actors {
		b.WriteString(" " + a.kind)
		if a.id != "" {
			b.WriteString("." + a.id)
		}
		for _, s := range a.states {
			b.WriteString("." + s)
		}
		if a.skewMin != 0 {
			fmt.Fprintf(&b, "~%d", a.skewMin)
		}
	}
	return b.String()
}

func parseGenBatch(s string) (*genBatch, error) {
	bad := func(format string, args ...any) (*genBatch, error) {
		return nil, fmt.Errorf("storagetest: generated scenario %q: %s", s, fmt.Sprintf(format, args...))
	}
	parts := strings.Split(s, ";")
	if len(parts) != 3 {
		return bad("want 'batch <live> <terminal> <moves…> ; <seeded…> ; <actors…>'")
	}
	head := strings.Fields(parts[0])
	if len(head) < 3 || head[0] != "batch" {
		return bad("want 'batch <live> <terminal> <moves…>'")
	}
	g := &genBatch{live: strings.Split(head[1], ","), terminal: strings.Split(head[2], ","), moves: map[string][]string{}}
	for _, f := range head[3:] {
		from, to, ok := strings.Cut(f, ">")
		if !ok {
			return bad("move %q", f)
		}
		if to != "" {
			g.moves[from] = strings.Split(to, ",")
		}
	}
	for _, f := range strings.Fields(parts[1]) {
		id, st, ok := strings.Cut(f, "=")
		if !ok {
			return bad("seeded batch %q", f)
		}
		sd := genSeed{id: id, state: st}
		if from, to, ok := strings.Cut(st, ","); ok {
			sd.from, sd.state = from, to
		}
		g.seeded = append(g.seeded, sd)
	}
	for _, f := range strings.Fields(parts[2]) {
		a := genBatchActor{}
		if body, skew, ok := strings.Cut(f, "~"); ok {
			if _, err := fmt.Sscan(skew, &a.skewMin); err != nil {
				return bad("actor %q: %v", f, err)
			}
			f = body
		}
		p := strings.Split(f, ".")
		a.kind = p[0]
		switch a.kind {
		case "create", "move":
			if len(p) < 3 {
				return bad("actor %q", f)
			}
			a.id, a.states = p[1], p[2:]
		case "list", "lookup":
			a.states = p[1:]
		case "reconcile", "finished", "prune":
		default:
			return bad("actor %q", f)
		}
		g.actors = append(g.actors, a)
	}
	return g, nil
}

// scenario turns g into a scenario the explorer runs.
func (g *genBatch) scenario(name string) *exScenario {
	m := g.machine()
	sc := &exScenario{name: name, doc: g.String(), clock: true, machine: &m, indexed: g.looksUp() || g.prunes(), prunes: g.prunes()}
	for _, s := range g.seeded {
		sc.ids = append(sc.ids, s.id)
	}
	for _, a := range g.actors {
		if a.kind == "create" {
			sc.ids = append(sc.ids, a.id, a.id+"r")
		}
	}
	seeded := slices.Clone(g.seeded)
	sc.setup = func(s *exSetup) error {
		for _, b := range seeded {
			states, rows := []string{b.state}, []exSeedRow{exRowAt(b.state, 1)}
			if b.from != "" {
				states, rows = []string{b.from, b.state}, []exSeedRow{exRowAt(b.from, 1), exRowAt(b.state, 2)}
			}
			if err := s.seedIndexed(sc.indexed, m, b.id, states, rows); err != nil {
				return err
			}
		}
		return nil
	}
	for _, a := range g.actors {
		sc.actors = append(sc.actors, &exActorSpec{name: a.describe(), skew: time.Duration(a.skewMin) * time.Minute, run: a.runner(),
			reconciler: a.kind == "reconcile"})
	}
	return sc
}

func (a genBatchActor) describe() string {
	s, _ := a.describeLookup()
	switch a.kind {
	case "create":
		s = fmt.Sprintf("Create(%s %s), retried", a.id, a.states[0])
	case "move":
		s = fmt.Sprintf("move %s to %s, each when the machine allows it", a.id, strings.Join(a.states, " then "))
	case "list":
		s = fmt.Sprintf("List(%s)", strings.Join(a.states, ", "))
	case "reconcile":
		s = "Reconcile"
	case "prune":
		s = fmt.Sprintf("Prune(%s, %s)", exPruneSince.Format(time.DateOnly), exPruneBefore.Format(time.DateOnly))
	}
	if a.skewMin != 0 {
		s += fmt.Sprintf(", clock %+dm", a.skewMin)
	}
	return s
}

func (a genBatchActor) runner() func(ctx context.Context, e *exEnv) error {
	return func(ctx context.Context, e *exEnv) error {
		switch a.kind {
		case "create":
			return e.createRetrying(ctx, a.id, a.states[0])
		case "list":
			_, err := e.list(ctx, a.states...)
			return err
		case "reconcile":
			return e.reconcile(ctx)
		case "lookup", "finished":
			return a.runLookup(ctx, e)
		case "prune":
			return e.prune(ctx)
		}
		for _, to := range a.states {
			b, err := e.store.GetBatch(ctx, e.queue, a.id)
			if err != nil {
				return nil // not created (yet): nothing to move
			}
			if !e.machine.Allowed(b.State, to) {
				continue
			}
			if err := e.transition(ctx, b, to); err != nil {
				return nil // lost a race, or failed: a caller reads again
			}
		}
		return nil
	}
}

// smaller lists the scenarios one simplification away from g.
func (g *genBatch) smaller() []*genBatch {
	var out []*genBatch
	clone := func() *genBatch {
		return &genBatch{live: g.live, terminal: g.terminal, moves: g.moves, seeded: slices.Clone(g.seeded), actors: slices.Clone(g.actors)}
	}
	for i := range g.actors {
		if len(g.actors) > 1 {
			c := clone()
			c.actors = slices.Delete(c.actors, i, i+1)
			out = append(out, c)
		}
		if g.actors[i].skewMin != 0 {
			c := clone()
			c.actors[i].skewMin = 0
			out = append(out, c)
		}
		if n := len(g.actors[i].states); n > 1 {
			c := clone()
			c.actors[i].states = slices.Clone(c.actors[i].states[:n-1])
			out = append(out, c)
		}
	}
	for i, s := range g.seeded {
		if s.from != "" {
			c := clone()
			c.seeded[i].from = ""
			out = append(out, c)
		}
		used := slices.ContainsFunc(g.actors, func(a genBatchActor) bool { return a.id == s.id })
		if !used {
			c := clone()
			c.seeded = slices.Delete(c.seeded, i, i+1)
			out = append(out, c)
		}
	}
	return out
}
