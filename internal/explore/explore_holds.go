package explore

import (
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/statefold/statefold/internal/faultstore"
)

// Nested holds: a race that needs several actors each stopped at a precise
// write — one held at a compare-and-swap another's write will make stale,
// a second held at a write computed from what the third then changes, the
// third stopped between two of its writes — is a handful of preemptions at
// precise steps among hundreds: random priorities almost never make it,
// and a preemption-bounded search at every step cannot go that deep. A
// holds schedule makes exactly that shape, and the holds are enumerated:
// switches happen only at writes (the reads in between run on), which
// leaves few enough combinations to run a good share of them.

// exHold is one hold of a holds schedule: the actor runs until its k-th
// write (counted from the start of the schedule) is its next call.
type exHold struct {
	actor string
	k     int
}

// exHolds runs one holds schedule: the actor of the first hold runs alone
// until its k-th write is its next call and is held there; then the actor
// of the next hold runs alone until it is held at its own write, and so
// on; then the held actors are let go in the order they were held, each
// until the call it was held in returns; then the default order. A hold
// whose actor returns first is skipped. No fault, no clock jump.
type exHolds struct {
	s       *exSchedule
	holds   []exHold
	placed  int              // the holds placed so far
	counted map[*exCall]bool // the writes counted
	writes  map[string]int   // the writes announced, by actor
	rel     int              // the hold being let go
	relBase int              // its actor's calls when it was let go; -1 before
	// jump: the clock jumps past the grace once, as the first actor is
	// held; jumped once it did.
	jump, jumped bool
}

func newHolds(holds []exHold) *exHolds {
	return &exHolds{holds: holds, counted: map[*exCall]bool{}, writes: map[string]int{}, relBase: -1}
}

// exJump marks a holds plan whose clock jumps as its first actor is held.
var exJump = exHold{actor: "+t"}

// newHoldsPlan is newHolds over a plan that may end with exJump.
func newHoldsPlan(plan []exHold) *exHolds {
	if n := len(plan); n > 0 && plan[n-1] == exJump {
		h := newHolds(plan[:n-1])
		h.jump = true
		return h
	}
	return newHolds(plan)
}

func (h *exHolds) bind(s *exSchedule) { h.s = s }

func (h *exHolds) finish() error { return nil }

// count counts a's pending call if it is a write not counted yet, and
// returns a's writes so far.
func (h *exHolds) count(a *exActor) int {
	if a.pending.method.IsWrite() && !h.counted[a.pending] {
		h.counted[a.pending] = true
		h.writes[a.letter]++
	}
	return h.writes[a.letter]
}

func (h *exHolds) pick(kind exPointKind, opts []exOpt, _ exCost) (int, error) {
	if kind == exPointClock && h.jump && !h.jumped && h.placed == 0 && len(opts) > 1 {
		if a := h.s.actors[h.holds[0].actor[0]-'a']; a.pending != nil && a.pending.method.IsWrite() && h.count(a) >= h.holds[0].k {
			h.jumped = true
			return 1, nil
		}
	}
	if kind != exPointActor {
		return 0, nil
	}
	at := func(l string) (int, *exActor) {
		return slices.IndexFunc(opts, func(o exOpt) bool { return o.tok == l }), h.s.actors[l[0]-'a']
	}
	for h.placed < len(h.holds) {
		hd := h.holds[h.placed]
		i, a := at(hd.actor)
		if i >= 0 && !(a.pending.method.IsWrite() && h.count(a) >= hd.k) {
			return i, nil
		}
		h.placed++ // held there, or returned before
	}
	for h.rel < len(h.holds) {
		i, a := at(h.holds[h.rel].actor)
		n := exCalls(a)
		if h.relBase < 0 {
			h.relBase = n
		}
		if i >= 0 && n == h.relBase {
			return i, nil
		}
		h.rel, h.relBase = h.rel+1, -1
	}
	return 0, nil
}

// exCalls counts the calls the actor has returned from.
func exCalls(a *exActor) int {
	return len(a.env.gen) + len(a.env.lists) + len(a.env.creates)
}

// exSolo runs one actor alone first, then the default order, and notes the
// object of each write that actor announced.
type exSolo struct {
	s       *exSchedule
	first   string
	counted map[*exCall]bool
	objects []string // the object of each of first's writes, in order
	writers map[string]map[string]bool
}

func (c *exSolo) bind(s *exSchedule) { c.s = s }
func (c *exSolo) finish() error      { return nil }

func (c *exSolo) pick(kind exPointKind, opts []exOpt, _ exCost) (int, error) {
	if kind != exPointActor {
		return 0, nil
	}
	i := max(0, slices.IndexFunc(opts, func(o exOpt) bool { return o.tok == c.first }))
	a := c.s.actors[opts[i].tok[0]-'a']
	if a.pending.method.IsWrite() && !c.counted[a.pending] {
		c.counted[a.pending] = true
		o := exObject(a.pending)
		if a.letter == c.first {
			c.objects = append(c.objects, o)
		}
		if c.writers[o] == nil {
			c.writers[o] = map[string]bool{}
		}
		c.writers[o][a.letter] = true
	}
	return i, nil
}

// exObject names what a write targets: the apply, an operation row, a
// batch row, a bucket's row of a batch.
func exObject(c *exCall) string {
	switch c.method {
	case faultstore.UpdateApply, faultstore.CreateApply:
		return "apply"
	case faultstore.UpdateOperation, faultstore.CreateOperation:
		_, op, _ := strings.Cut(strings.Fields(c.desc)[0], "/")
		return "operation " + op
	case faultstore.AddMember, faultstore.RemoveMember:
		return "member " + c.bucket + " " + strings.Fields(c.desc)[1]
	}
	return "batch " + c.batch
}

// exHoldPlans runs each actor of sc alone first (one schedule each,
// through run, which runs, checks and records a schedule and reports
// whether to stop) to learn its writes, and returns every holds schedule
// of two or three distinct actors within those writes, in a random order
// drawn from rng: first those whose every hold is at a write to something
// another actor writes too (a held write that nobody else's can make
// stale decides less), then the others.
func exHoldPlans(sc *exScenario, rng *rand.Rand, run func(exChooser) bool) (plans [][]exHold, stop bool) {
	letters := make([]string, len(sc.actors))
	objects := map[string][]string{}
	writers := map[string]map[string]bool{}
	for i := range sc.actors {
		letters[i] = string(rune('a' + i))
		solo := &exSolo{first: letters[i], counted: map[*exCall]bool{}, writers: writers}
		if run(solo) {
			return nil, true
		}
		objects[letters[i]] = solo.objects
	}
	var shared, rest, ends, solos [][]exHold
	exWalkHolds(letters, func(l string) int { return len(objects[l]) }, func(p []exHold) {
		contended := !slices.ContainsFunc(p, func(h exHold) bool { return len(writers[objects[h.actor][h.k-1]]) <= 1 })
		if contended {
			shared = append(shared, p)
		} else {
			rest = append(rest, p)
		}
	})
	rng.Shuffle(len(shared), func(i, j int) { shared[i], shared[j] = shared[j], shared[i] })
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	// Then the plans that let an actor run alone until it returns (a hold
	// past its last write), as a call that crashes or writes nothing does;
	// where time decides, each also with a clock jump as its first actor
	// is held. Those whose first actor runs to its end (much as in its solo
	// run) come last.
	exWalkHolds(letters, func(l string) int { return len(objects[l]) + 1 }, func(p []exHold) {
		if !slices.ContainsFunc(p, func(h exHold) bool { return h.k > len(objects[h.actor]) }) {
			return
		}
		group := &ends
		if p[0].k > len(objects[p[0].actor]) {
			group = &solos
		}
		*group = append(*group, p)
		if sc.clock {
			*group = append(*group, append(slices.Clone(p), exJump))
		}
	})
	for _, g := range [][][]exHold{ends, solos} {
		rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
	}
	return slices.Concat(shared, rest, ends, solos), false
}

// exWalkHolds calls visit with every plan of two or three distinct actors
// of letters, each held at one of its first holds(actor) writes, depth
// first.
func exWalkHolds(letters []string, holds func(string) int, visit func([]exHold)) {
	var walk func(prefix []exHold)
	walk = func(prefix []exHold) {
		if len(prefix) >= 2 {
			visit(slices.Clone(prefix))
		}
		if len(prefix) == 3 {
			return
		}
		for _, l := range letters {
			if slices.ContainsFunc(prefix, func(h exHold) bool { return h.actor == l }) {
				continue
			}
			for k := range holds(l) {
				walk(append(prefix, exHold{actor: l, k: k + 1}))
			}
		}
	}
	walk(nil)
}

// exRunHolds runs n schedules of sc through run (see exHoldPlans): the
// solo runs, then holds schedules.
func exRunHolds(sc *exScenario, n int, rng *rand.Rand, run func(exChooser) bool) {
	plans, stop := exHoldPlans(sc, rng, run)
	for _, p := range plans[:min(len(plans), max(0, n-len(sc.actors)))] {
		if stop || run(newHoldsPlan(p)) {
			return
		}
	}
}
