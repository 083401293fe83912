package explore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
)

// The finished-applies index and PruneFinished in the generated
// applystate scenarios. Half of the discovery scenarios not drawn in the
// shape of a race get a "finished" actor — a caller of PruneFinished over
// the scenario's day with a limit of 2, calling again from the report's
// Next while it says More — at a random point among the others, and a
// stopped apply seeded with an operation, a payload and its open row left
// behind (a crash between its terminal write and its filing), which a
// ListOpen or a Sweep files. Half of those PruneFinished actors crash
// before a store call of theirs (between an apply's prune and its row's
// removal among them) and a second one runs, half the time with its
// cutoff just after the seeded stop (before every other completion and
// every prune's payload drop); one in three scenarios gets a Stop too.
//
// The specification, from docs/design.md ("Discovery of open applies and
// the sweeper", "Pruning terminal applies"):
//   - an apply is, from the moment its CreatePlan returned (a seeded apply
//     from the start), in the open index, in the finished index, or pruned
//     (terminal, without operations or payload), after every step — a
//     terminal apply is filed before its open row is removed, and pruned
//     before its finished row is removed;
//   - only a terminal apply loses operations (the step check's "forward"
//     for the scenario's apply, prunes counting this actor);
//   - once a PruneFinished returns without error and without More, no
//     finished row of the day remains for an apply pruned already when
//     it read the day (whatever the cutoff), unless a filing wrote it
//     after that read;
//   - every apply filed in the day when the call read it, terminal and
//     completed before the call's cutoff (a stopped apply: its terminal write's
//     UpdatedAt), is pruned when the call returns;
//   - a CreatePlan of an apply pruned in the schedule fails with
//     storage.ErrAlreadyExists.

// genStoppedSuffix names the stopped apply a scenario with a PruneFinished
// actor seeds.
const genStoppedSuffix = "-stopped"

// genStoppedAt is when the seeded stopped apply stopped: the instant the
// schedule's clock starts at (exClockStart), so that a PruneFinished with
// the cutoff genEarlyCutoff finds it due and every apply stopped,
// completed or pruned by the scenario's calls not.
var (
	genStoppedAt   = exClockStart
	genEarlyCutoff = genStoppedAt.Add(time.Microsecond)
)

// genFinishedLimit is the limit of every PruneFinished of the scenarios:
// less than the applies a scenario files, so that More comes up.
const genFinishedLimit = 2

// genFinished draws, with odds of one half over a discovery scenario not
// drawn in the shape of a race, the PruneFinished actors. It draws from
// its own generator, seeded by the scenario drawn so far, so the draws of
// every scenario without them stay what they were.
func genFinished(g *genApply) *genApply {
	h := fnv.New64a()
	h.Write([]byte(g.String()))
	rng := rand.New(rand.NewPCG(h.Sum64(), 26))
	if !g.discover || g.race || rng.IntN(2) != 0 {
		return g
	}
	a := genActor{kind: "finished"}
	if n := len(g.ops); rng.IntN(2) == 0 {
		// Before the removal of the first row pruned (the stopped apply
		// when the scenario's apply is not filed: ListMembers, GetApply
		// and ListOperations of the scenario's apply, then of the seeded
		// terminal one, then its removal, then GetApply, ListOperations,
		// DeleteOperation and UpdateApply of the stopped one), or at any
		// store call.
		a.crash = []int{5 + n, 9, 2 + rng.IntN(8+n)}[rng.IntN(3)]
	}
	g.actors = slices.Insert(g.actors, rng.IntN(len(g.actors)+1), a)
	if a.crash > 0 {
		// The second call; half the time with the cutoff just after the
		// seeded stop, before any prune of the scenario: a stopped apply
		// the first one pruned (its UpdatedAt moved past that cutoff) is
		// pruned already, and its row is cleaned all the same.
		g.actors = append(g.actors, genActor{kind: "finished", other: rng.IntN(2) == 0})
	}
	if rng.IntN(3) == 0 {
		g.actors = slices.Insert(g.actors, rng.IntN(len(g.actors)+1), genActor{kind: "stop"})
	}
	return g
}

// prunesFinished reports whether an actor of g calls PruneFinished.
func (g *genApply) prunesFinished() bool {
	return slices.ContainsFunc(g.actors, func(a genActor) bool { return a.kind == "finished" })
}

// seedFinished seeds, beside a PruneFinished actor, a stopped apply (no
// CompletedAt: it completed at its terminal write's UpdatedAt) with one
// stopped operation and a payload, whose open row stayed behind.
func (s *exSetup) seedFinished(g *genApply, id string) error {
	if !g.prunesFinished() {
		return nil
	}
	now := genStoppedAt
	sid := id + genStoppedSuffix
	op := storage.Operation{ApplyID: sid, ID: "S", Deployment: "dep-S", State: string(spStopped), OnFailure: string(applystate.Halt),
		Projected: true, ProjectedVersion: 1, CreatedAt: now, UpdatedAt: now}
	if _, err := s.store.CreateOperation(s.ctx, op); err != nil {
		return err
	}
	a := storage.Apply{ID: sid, State: string(spStopped), StopRequested: true, Payload: []byte("p"), CreatedAt: now, UpdatedAt: now}
	if _, err := s.store.CreateApply(s.ctx, a); err != nil {
		return err
	}
	return s.store.AddMember(s.ctx, genIndexRow(id, sid, 2, now))
}

// pruneFinishedCall runs a PruneFinished actor: PruneFinished over the
// scenario's day (with early, up to genEarlyCutoff), again from the
// report's Next while it says More (at most four calls), each recorded.
func (e *exEnv) pruneFinishedCall(ctx context.Context, early bool) error {
	since, before := exPruneSince, exPruneBefore
	if early {
		before = genEarlyCutoff
	}
	for range 4 {
		n := len(e.store.calls())
		rep, err := e.p.PruneFinished(ctx, since, before, genFinishedLimit)
		e.gen = append(e.gen, genCall{actor: e.letter, kind: "finished", err: err, more: rep.More, before: before, steps: e.store.calls()[n:]})
		if err != nil || !rep.More {
			return genEnd(err)
		}
		since = rep.Next
	}
	return nil
}

// finishedLabel describes a PruneFinished actor.
func finishedLabel(a genActor) string {
	s := fmt.Sprintf("PruneFinished (limit %d, again from Next while More)", genFinishedLimit)
	if a.other {
		s += " with its cutoff just after the seeded stop"
	}
	if a.crash > 0 {
		s += fmt.Sprintf("; crashes before its store call %d", a.crash)
	}
	return s
}

// exFinApply is what the index checks compare of one apply at one step.
type exFinApply struct {
	exists   bool
	terminal bool
	finished int64 // when it completed, as the docs define it (Unix nanoseconds)
	ops      int
	payload  bool
	open     int64 // the version of its open-index row (0: none)
	done     int64 // the version of its finished-index row of the scenario's day (0: none)
}

// pruned: terminal, without operations or payload.
func (a exFinApply) pruned() bool { return a.exists && a.terminal && a.ops == 0 && !a.payload }

func (a exFinApply) String() string {
	if !a.exists {
		return fmt.Sprintf("missing, open row v%d, finished row v%d", a.open, a.done)
	}
	return fmt.Sprintf("terminal=%v, %d operations, payload=%v, open row v%d, finished row v%d", a.terminal, a.ops, a.payload, a.open, a.done)
}

// exFinView is, in a discovery scenario, the index rows and the applies
// they name, by apply id; a view is never changed once read.
type exFinView map[string]exFinApply

// finIDs are the applies of a discovery scenario.
func (s *exSchedule) finIDs() []string {
	ids := []string{s.queue, s.queue + genDoneSuffix}
	if s.sc.gen.prunesFinished() {
		ids = append(ids, s.queue+genStoppedSuffix)
	}
	return ids
}

// readFinished reads, in a discovery scenario, both indexes (one shard,
// the scenario's day) and the applies into snap.fin; snap.ops are the
// scenario apply's operations, read before.
func (s *exSchedule) readFinished(snap *exApplySnap) error {
	if s.sc.gen == nil || !s.sc.gen.discover {
		return nil
	}
	view := exFinView{}
	for _, id := range s.finIDs() {
		a, err := s.raw.GetApply(s.ctx, id)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			view[id] = exFinApply{}
			continue
		case err != nil:
			return fmt.Errorf("check: get apply %s: %w", id, err)
		}
		st := applystate.Normalize(a.State)
		done := a.CompletedAt
		if st == spStopped {
			done = a.UpdatedAt
		}
		f := exFinApply{exists: true, terminal: spTerminal(st), finished: done.UnixNano(), payload: a.Payload != nil, ops: len(snap.ops)}
		if id != s.queue {
			ops, err := s.raw.ListOperations(s.ctx, id)
			if err != nil {
				return fmt.Errorf("check: list operations of %s: %w", id, err)
			}
			f.ops = len(ops)
		}
		view[id] = f
	}
	for _, b := range []struct {
		queue, state string
		done         bool
	}{
		{s.queue + ":open:0", "\x00statefold:open", false},
		{s.queue + ":done:0", "\x00statefold:done:" + exPruneSince.Format(time.DateOnly), true},
	} {
		rows, err := s.raw.ListMembers(s.ctx, b.queue, b.state)
		if err != nil {
			return fmt.Errorf("check: list members %s: %w", b.queue, err)
		}
		for _, r := range rows {
			f, ok := view[r.BatchID]
			if !ok {
				continue
			}
			if b.done {
				f.done = r.Version
			} else {
				f.open = r.Version
			}
			view[r.BatchID] = f
		}
	}
	snap.fin = view
	return nil
}

// equalFin compares two views.
func equalFin(a, b exFinView) bool { return maps.Equal(a, b) }

// checkFinished holds the schedule's history to the promises of the
// finished-applies index and PruneFinished (see the top of this file).
func (s *exSchedule) checkFinished(calls []genCall) error {
	g := s.sc.gen
	if !g.discover {
		return nil
	}
	created := genCreated(g, calls)
	for _, id := range s.finIDs() {
		from := 0
		if id == s.queue {
			from = created
		}
		for k := max(from, 0); from >= 0 && k < len(s.hist); k++ {
			f := s.hist[k].ap.fin[id]
			if f.open == 0 && f.done == 0 && !f.pruned() {
				s.violation("finished index: after step %d apply %s is in neither index and not pruned (%s)", k, id, f)
				break
			}
			if k > 0 && f.ops < s.hist[k-1].ap.fin[id].ops && !s.hist[k-1].ap.fin[id].terminal {
				s.violation("finished index: step %d deleted operations of apply %s, which was not terminal", k, id)
			}
		}
	}
	for _, c := range calls {
		if c.kind == "finished" && c.err == nil && !c.more && len(c.steps) > 0 {
			s.checkFinishedCall(c)
		}
	}
	return s.checkFinishedCreatePlans()
}

// checkFinishedCall checks what one PruneFinished that returned without
// error and without More left: no finished row of an apply pruned already
// when it read the day (but one a filing wrote after that read), and
// every apply filed when it read the day, terminal and due by its cutoff,
// pruned.
func (s *exSchedule) checkFinishedCall(c genCall) {
	first, last := c.steps[0], c.steps[len(c.steps)-1]
	for _, id := range s.finIDs() {
		at, end := s.hist[first].ap.fin[id], s.hist[last].ap.fin[id]
		if at.done > 0 && at.terminal && at.finished < c.before.UnixNano() && !end.pruned() {
			s.violation("prune finished: %s, yet apply %s, filed, terminal and due when the call read the day (%s), is not pruned (%s)", c, id, at, end)
		}
		if end.done == 0 || !end.pruned() || !at.pruned() {
			// An apply the call read unpruned and kept (not due by its
			// cutoff) may be pruned meanwhile by another caller.
			continue
		}
		// The step that wrote the row as it is at the end.
		k := last
		for k > 0 && s.hist[k-1].ap.fin[id].done == end.done {
			k--
		}
		if k < first {
			s.violation("prune finished: %s returned without More, yet the finished row of the pruned apply %s, there since step %d, remains", c, id, k)
		}
	}
}

// checkFinishedCreatePlans checks that a CreatePlan of every apply pruned
// in the schedule (not pruned from the start) fails with
// storage.ErrAlreadyExists.
func (s *exSchedule) checkFinishedCreatePlans() error {
	if !s.sc.gen.prunesFinished() {
		return nil
	}
	var p *applystate.Projector
	for _, id := range s.finIDs() {
		if s.hist[0].ap.fin[id].pruned() || !s.hist[len(s.hist)-1].ap.fin[id].pruned() {
			continue
		}
		if p == nil {
			var err error
			p, err = applystate.NewProjector(s.raw, s.raw, applystate.WithClock(func() time.Time { return s.clock.read(0) }),
				applystate.WithLogger(s.log.logger().With("actor", "prune-check")))
			if err != nil {
				return err
			}
		}
		plan := applystate.Plan{Apply: storage.Apply{ID: id, Payload: []byte("p")}, Operations: []storage.Operation{{ID: "S", Deployment: "dep-S"}}}
		if id == s.queue {
			plan.Apply.Payload, plan.Operations = nil, nil
			for _, o := range s.sc.gen.ops {
				plan.Operations = append(plan.Operations, storage.Operation{ID: o.id, Seq: o.seq, Deployment: "dep-" + o.id,
					Group: o.group, Finalizer: o.finalizer, OnFailure: string(o.policy)})
			}
		}
		if _, _, err := p.CreatePlan(s.ctx, plan); !errors.Is(err, storage.ErrAlreadyExists) {
			s.violation("prune finished: apply %s was pruned, yet a CreatePlan of its id returned %v, want storage.ErrAlreadyExists", id, err)
		}
	}
	return nil
}
