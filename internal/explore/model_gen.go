package explore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
)

// The generated applystate scenarios of the model check: a plan of 2–5
// operations with sequence groups, finalizers and the three failure
// policies, and 2–4 actors — drive loops (a second replica of one, reports
// that repeat, arrive late or go backwards, loops that crash between
// writes) and operators (Stop, ReleasePause, Reproject, CreatePlan retried
// with the same or another plan).

// genOp is one operation of a generated plan.
type genOp struct {
	id        string
	seq       int64
	group     string
	finalizer bool
	policy    applystate.Policy
	init      spState // its state when the scenario starts
}

// genActor is one generated actor.
type genActor struct {
	kind  string // "loop", "stop", "release", "reproject", "plan"
	op    string // a loop's operation
	final spState
	late  bool // a loop reports pending again after Proceed
	ready bool // a loop reports waiting_for_cutover between running and its final report
	back  bool // a loop reports running again after its final report
	waits int  // how often a loop polls again on Wait
	crash int  // the actor crashes before its crash-th store call (0: never)
	other bool // a CreatePlan of another plan (the first operation left out); a PruneFinished's early cutoff
	still bool // the actor's clock stands still between the schedule's clock jumps
}

// genTTL is how long a drive loop's lease lasts: a clock jump of the
// schedule (the grace and a minute) outlasts it, so another loop may take
// over.
const genTTL = 5 * time.Minute

// genApply is a generated applystate scenario.
type genApply struct {
	ops  []genOp
	plan bool // nothing is stored at the start: a CreatePlan actor creates it
	// race: the scenario has the shape of a known race; its bounded search
	// runs longer (see ModelCheck.RaceSchedules).
	race bool
	// owned: every drive loop acquires its operation (a lease) before it
	// drives it, renews it once started, and drives under it; the
	// schedule's clock jumps let a lease lapse and another loop take over.
	owned bool
	// discover: the actors' Projectors keep the open-applies index, and
	// ListOpen and Sweep actors run (model_discovery.go).
	discover bool
	actors   []genActor
}

func (g *genApply) planIDs() []string {
	ids := make([]string, len(g.ops))
	for i, o := range g.ops {
		ids[i] = o.id
	}
	return ids
}

var genPolicies = []applystate.Policy{"", applystate.Halt, applystate.Continue, applystate.Pause}

// genApplyScenario draws a scenario.
func genApplyScenario(rng *rand.Rand) *genApply {
	g := &genApply{}
	n := 2 + rng.IntN(4)
	seq := int64(0)
	for i := range n {
		o := genOp{id: string(rune('A' + i)), seq: seq, policy: genPolicies[rng.IntN(len(genPolicies))], init: spPending}
		if rng.IntN(4) != 0 {
			seq++ // else the next shares this sequence number
		}
		g.ops = append(g.ops, o)
	}
	if n >= 3 && rng.IntN(3) == 0 {
		// A group: some work and its finalizer, which comes later.
		i := rng.IntN(n - 1)
		g.ops[i].group, g.ops[i+1].group, g.ops[i+1].finalizer = "g", "g", true
		g.ops[i+1].seq = max(g.ops[i+1].seq, g.ops[i].seq+1)
	}
	g.plan = rng.IntN(6) == 0
	g.owned = rng.IntN(3) == 0
	if !g.plan && rng.IntN(4) == 0 {
		// Some work already under way.
		i := rng.IntN(n)
		g.ops[i].init = []spState{spRunning, spReady, spCompleted, spFailed}[rng.IntN(4)]
	}
	actors := 2 + rng.IntN(2)
	if !g.plan && rng.IntN(4) == 0 {
		// The shape of most races between drive loops: one loop settles
		// an operation while two replicas of another's loop report.
		g.race = true
		if n > 3 {
			// Races are drawn over small plans.
			n = 2 + rng.IntN(2)
			g.ops = g.ops[:n]
		}
		x, y := rng.IntN(n), rng.IntN(n)
		if x != y && rng.IntN(2) == 0 {
			// The replicas restarted after their work got ready: their
			// running reports are stale, behind the stored row.
			g.ops[y].init = spReady
		}
		final := []spState{spCompleted, spFailed}[rng.IntN(2)]
		g.actors = append(g.actors,
			genActor{kind: "loop", op: g.ops[x].id, final: final, ready: rng.IntN(2) == 0},
			genActor{kind: "loop", op: g.ops[y].id, final: spCompleted, waits: 1, ready: rng.IntN(3) == 0},
			genActor{kind: "loop", op: g.ops[y].id, final: []spState{spCompleted, spFailed}[rng.IntN(2)], waits: 1, late: rng.IntN(2) == 0})
		return g
	}
	if g.plan {
		g.actors = append(g.actors, genActor{kind: "plan", crash: rng.IntN(2) * (1 + rng.IntN(n+1))})
		if rng.IntN(2) == 0 {
			g.actors = append(g.actors, genActor{kind: "plan", other: rng.IntN(2) == 0})
		}
	}
	for len(g.actors) < actors {
		switch r := rng.IntN(10); {
		case r < 6:
			o := g.ops[rng.IntN(n)]
			if rng.IntN(4) == 0 && len(g.actors) > 0 && g.actors[len(g.actors)-1].kind == "loop" {
				o.id = g.actors[len(g.actors)-1].op // a second replica of a loop
			}
			a := genActor{kind: "loop", op: o.id, final: spCompleted, waits: rng.IntN(2)}
			if rng.IntN(2) == 0 {
				a.final = spFailed
			}
			a.late = rng.IntN(4) == 0
			a.back = rng.IntN(6) == 0
			a.ready = rng.IntN(8) == 0
			if rng.IntN(6) == 0 {
				a.crash = 1 + rng.IntN(24)
			}
			g.actors = append(g.actors, a)
		case r < 7:
			g.actors = append(g.actors, genActor{kind: "stop"})
		case r < 9:
			g.actors = append(g.actors, genActor{kind: "release"})
		default:
			g.actors = append(g.actors, genActor{kind: "reproject"})
		}
	}
	return g
}

// String encodes the scenario; parseGenApply reads it back.
//
//	ops A.0.pause B.1.halt.g C.2..g.f.running ; plan ; loop.A.failed.late.w2.x5 stop
func (g *genApply) String() string {
	var b strings.Builder
	b.WriteString("ops")
	for _, o := range g.ops {
		fmt.Fprintf(&b, " %s.%d.%s", o.id, o.seq, o.policy)
		if o.group != "" || o.finalizer || o.init != spPending {
			fmt.Fprintf(&b, ".%s", o.group)
		}
		if o.finalizer || o.init != spPending {
			f := ""
			if o.finalizer {
				f = "f"
			}
			fmt.Fprintf(&b, ".%s", f)
		}
		if o.init != spPending {
			fmt.Fprintf(&b, ".%s", o.init)
		}
	}
	for _, m := range g.marks() {
		if s := m.String(); s != "" {
			b.WriteString(" ; " + s)
		}
	}
	b.WriteString(" ;")
	for _, a := range g.actors {
		b.WriteString(" " + a.kind)
		if a.kind == "loop" {
			fmt.Fprintf(&b, ".%s.%s", a.op, a.final)
		}
		for _, m := range a.marks() {
			if s := m.String(); s != "" {
				b.WriteString("." + s)
			}
		}
	}
	return b.String()
}

// genMark is one mark of an encoded scenario or actor: a flag, written as
// its name when set, or a count, written as its name and the count when
// positive.
type genMark struct {
	name string
	flag *bool
	n    *int
}

// marks are g's marks, in the order String writes them.
func (g *genApply) marks() []genMark {
	return []genMark{{name: "plan", flag: &g.plan}, {name: "owned", flag: &g.owned}, {name: "discover", flag: &g.discover}}
}

// marks are a's marks, in the order String writes them.
func (a *genActor) marks() []genMark {
	return []genMark{{name: "late", flag: &a.late}, {name: "ready", flag: &a.ready}, {name: "back", flag: &a.back},
		{name: "w", n: &a.waits}, {name: "x", n: &a.crash}, {name: "other", flag: &a.other}, {name: "still", flag: &a.still}}
}

// String encodes m; it is empty when m is unset.
func (m genMark) String() string {
	switch {
	case m.flag != nil && *m.flag:
		return m.name
	case m.n != nil && *m.n > 0:
		return fmt.Sprintf("%s%d", m.name, *m.n)
	}
	return ""
}

// parseMark sets the mark of marks that s encodes: a flag named s, else a
// count whose name s starts with. It reports whether one did.
func parseMark(marks []genMark, s string) bool {
	for _, m := range marks {
		if m.flag != nil && s == m.name {
			*m.flag = true
			return true
		}
	}
	for _, m := range marks {
		if m.n != nil && strings.HasPrefix(s, m.name) {
			*m.n, _ = strconv.Atoi(s[len(m.name):])
			return true
		}
	}
	return false
}

func parseGenApply(s string) (*genApply, error) {
	g := &genApply{}
	parts := strings.Split(s, ";")
	bad := func(format string, args ...any) (*genApply, error) {
		return nil, fmt.Errorf("storagetest: generated scenario %q: %s", s, fmt.Sprintf(format, args...))
	}
	if len(parts) < 2 {
		return bad("want 'ops … ; [plan ;] actors'")
	}
	ops := strings.Fields(parts[0])
	if len(ops) < 2 || ops[0] != "ops" {
		return bad("want 'ops' and at least one operation")
	}
	for _, f := range ops[1:] {
		p := strings.Split(f, ".")
		if len(p) < 3 || len(p) > 6 {
			return bad("operation %q", f)
		}
		seq, err := strconv.ParseInt(p[1], 10, 64)
		if err != nil {
			return bad("operation %q: %v", f, err)
		}
		o := genOp{id: p[0], seq: seq, policy: applystate.Policy(p[2]), init: spPending}
		if len(p) > 3 {
			o.group = p[3]
		}
		if len(p) > 4 {
			o.finalizer = p[4] == "f"
		}
		if len(p) > 5 {
			o.init = spState(p[5])
		}
		g.ops = append(g.ops, o)
	}
	rest := parts[1:]
	for _, m := range g.marks() {
		if len(rest) > 1 && strings.TrimSpace(rest[0]) == m.name {
			*m.flag, rest = true, rest[1:]
		}
	}
	if len(rest) != 1 {
		return bad("want one list of actors")
	}
	for _, f := range strings.Fields(rest[0]) {
		p := strings.Split(f, ".")
		a := genActor{kind: p[0]}
		i := 1
		if a.kind == "loop" {
			if len(p) < 3 {
				return bad("actor %q", f)
			}
			a.op, a.final, i = p[1], spState(p[2]), 3
		}
		for _, m := range p[i:] {
			if !parseMark(a.marks(), m) {
				return bad("actor %q: %q", f, m)
			}
		}
		switch a.kind {
		case "loop", "stop", "release", "reproject", "plan", "list", "sweep", "prune", "finished":
		default:
			return bad("actor %q", f)
		}
		g.actors = append(g.actors, a)
	}
	return g, nil
}

// scenario turns g into a scenario the explorer runs.
func (g *genApply) scenario(name string) *exScenario {
	sc := &exScenario{name: name, doc: g.String(), gen: g, apply: &exApplySpec{plan: g.plan}, clock: g.owned || g.discover}
	for _, o := range g.ops {
		sc.apply.ops = append(sc.apply.ops, exOpSpec{id: o.id, policy: o.policy, state: o.init})
	}
	for _, a := range g.actors {
		name := a.describe()
		if a.still {
			name += " (its clock stands still between jumps)"
		}
		sc.actors = append(sc.actors, &exActorSpec{name: name, crash: a.crash, still: a.still, run: g.runner(a)})
	}
	return sc
}

func (a genActor) describe() string {
	switch a.kind {
	case "loop":
		s := fmt.Sprintf("drive loop of %s: pending (polling %d more times on Wait), on Proceed running then %s", a.op, a.waits, a.final)
		if a.ready {
			s = fmt.Sprintf("drive loop of %s: pending (polling %d more times on Wait), on Proceed running, waiting_for_cutover, then %s", a.op, a.waits, a.final)
		}
		if a.late {
			s += ", a late pending report after Proceed"
		}
		if a.back {
			s += ", then running again"
		}
		if a.crash > 0 {
			s += fmt.Sprintf("; crashes before its store call %d", a.crash)
		}
		return s
	case "plan":
		if a.other {
			return "CreatePlan of another plan"
		}
		return fmt.Sprintf("CreatePlan (crashes before store call %d)", a.crash)
	case "list", "sweep":
		return discoveryLabel(a.kind)
	case "finished":
		return finishedLabel(a)
	}
	return map[string]string{"stop": "Stop", "release": "ReleasePause", "reproject": "Reproject", "prune": "Prune"}[a.kind]
}

// setupGen writes g's starting apply: its operations in their first
// states, every row acknowledged, and the apply the specification gives.
func (s *exSetup) setupGen(g *genApply, id string) error {
	if err := s.seedDiscovery(g, id); err != nil || g.plan {
		return err
	}
	now := s.clock.read(0).Truncate(time.Microsecond)
	snap := exApplySnap{ops: map[string]exOpView{}}
	for _, o := range g.ops {
		op := storage.Operation{ApplyID: id, ID: o.id, Seq: o.seq, Deployment: "dep-" + o.id, Group: o.group, Finalizer: o.finalizer,
			State: string(o.init), OnFailure: string(o.policy), Projected: true, ProjectedVersion: 1, CreatedAt: now, UpdatedAt: now}
		if o.init != spPending {
			op.StartedAt = now
		}
		if spSettled(o.init) {
			op.CompletedAt = now
		}
		if o.init == spFailed {
			op.ErrorMessage = "boom"
		}
		if _, err := s.store.CreateOperation(s.ctx, op); err != nil {
			return err
		}
		snap.ops[o.id] = exOpView{state: op.State, policy: op.OnFailure, started: op.StartedAt}
	}
	st := spApplyOf(g.ops, snap)
	a := storage.Apply{ID: id, State: string(st), CreatedAt: now, UpdatedAt: now}
	if st != spPending {
		a.StartedAt = now
	}
	if spTerminal(st) {
		a.CompletedAt = now
	}
	_, err := s.store.CreateApply(s.ctx, a)
	return err
}

// record runs one applystate call of the actor and keeps it for the checks.
func (e *exEnv) record(c genCall, call func() (applystate.Result, error)) (applystate.Result, error) {
	n := len(e.store.calls())
	r, err := call()
	c.steps, c.next, c.term, c.undet, c.err = e.store.calls()[n:], r.Next, r.Terminalized, r.Undetermined, err
	e.gen = append(e.gen, c)
	if errors.Is(err, applystate.ErrAmbiguous) {
		e.applyObs.ambiguous = true
	}
	return r, err
}

// genRetry calls again after an error or an undetermined result, as a
// drive loop polls again, unless the actor crashed.
func genRetry(call func() (applystate.Result, error)) (applystate.Result, error) {
	var r applystate.Result
	var err error
	for range 1 + exRetries {
		r, err = call()
		if errors.Is(err, errGenCrash) || errors.Is(err, applystate.ErrNotOwner) {
			return r, err
		}
		if err == nil && !r.Undetermined {
			return r, nil
		}
	}
	return r, err
}

// runner is what actor a does.
func (g *genApply) runner(a genActor) func(ctx context.Context, e *exEnv) error {
	return func(ctx context.Context, e *exEnv) error {
		call := func(kind string, f func() (applystate.Result, error)) error {
			_, err := genRetry(func() (applystate.Result, error) { return e.record(genCall{actor: e.letter, kind: kind}, f) })
			return genEnd(err)
		}
		switch a.kind {
		case "stop":
			return call("stop", func() (applystate.Result, error) { return e.p.Stop(ctx, e.queue) })
		case "release":
			return call("release", func() (applystate.Result, error) { return e.p.ReleasePause(ctx, e.queue) })
		case "reproject":
			return call("reproject", func() (applystate.Result, error) { return e.p.Reproject(ctx, e.queue) })
		case "list", "sweep":
			return e.discoveryCall(ctx, a.kind)
		case "prune":
			return e.pruneCall(ctx)
		case "finished":
			return e.pruneFinishedCall(ctx, a.other)
		case "plan":
			plan := applystate.Plan{Apply: storage.Apply{ID: e.queue}}
			var ids []string
			for i, o := range g.ops {
				if a.other && i == 0 {
					continue
				}
				ids = append(ids, o.id)
				plan.Operations = append(plan.Operations, storage.Operation{ID: o.id, Seq: o.seq, Deployment: "dep-" + o.id,
					Group: o.group, Finalizer: o.finalizer, OnFailure: string(o.policy)})
			}
			n := len(e.store.calls())
			_, _, err := e.p.CreatePlan(ctx, plan)
			e.gen = append(e.gen, genCall{actor: e.letter, kind: "plan", steps: e.store.calls()[n:], err: err, plan: ids})
			return genEnd(err)
		}
		return e.loop(ctx, g, a)
	}
}

// errGenLost ends a drive loop whose lease was taken over.
var errGenLost = errors.New("storagetest: the drive loop lost its operation")

// genEnd is what an actor returns: a crash or an error its caller would
// handle (refused plans, lost leases included) ends it quietly; the checks
// read the calls.
func genEnd(err error) error {
	if errors.Is(err, errGenCrash) {
		return err
	}
	return nil
}

// loop is a deployment's drive loop.
func (e *exEnv) loop(ctx context.Context, g *genApply, a genActor) error {
	var opts []applystate.DriveOption
	var lease applystate.Lease
	if g.owned {
		// Acquire the operation, polling while another loop's lease is
		// live (a clock jump of the schedule may end it).
		var err error
		for try := 0; ; try++ {
			n := len(e.store.calls())
			lease, err = e.p.Acquire(ctx, e.queue, a.op, "loop-"+e.letter, genTTL)
			e.gen = append(e.gen, genCall{actor: e.letter, kind: "acquire", op: a.op, err: err, token: lease.Token, resume: lease.Resume, steps: e.store.calls()[n:]})
			if err == nil {
				break
			}
			if errors.Is(err, errGenCrash) || try >= 2+a.waits {
				return genEnd(err)
			}
		}
		opts = append(opts, applystate.WithLease(lease))
	}
	drive := func(st spState) (applystate.Directive, error) {
		r, err := genRetry(func() (applystate.Result, error) {
			return e.record(genCall{actor: e.letter, kind: "drive", op: a.op, report: st, token: lease.Token, resume: lease.Resume}, func() (applystate.Result, error) {
				return e.p.Drive(ctx, e.queue, []applystate.Task{{OperationID: a.op, State: st, ErrorMessage: "boom"}}, opts...)
			})
		})
		if errors.Is(err, applystate.ErrNotOwner) {
			return r.Next, errGenLost
		}
		return r.Next, err
	}
	next, err := drive(spPending)
	for w := 0; err == nil && next == applystate.Wait && w < a.waits; w++ {
		next, err = drive(spPending)
	}
	if err != nil || (next != applystate.Proceed && next != applystate.Resume) {
		return genEnd(err)
	}
	if g.owned {
		n := len(e.store.calls())
		l, err := e.p.Renew(ctx, lease, genTTL)
		e.gen = append(e.gen, genCall{actor: e.letter, kind: "renew", op: a.op, err: err, token: lease.Token, steps: e.store.calls()[n:]})
		if err != nil {
			return genEnd(err)
		}
		lease = l
	}
	if a.late {
		if _, err := drive(spPending); err != nil {
			return genEnd(err)
		}
	}
	if next, err = drive(spRunning); err != nil {
		return genEnd(err)
	}
	if next == applystate.DoNotStart {
		// A stop was requested: stop the work and say so.
		_, err = drive(spStopped)
		return genEnd(err)
	}
	if a.ready {
		if next, err = drive(spReady); err != nil {
			return genEnd(err)
		}
		if next == applystate.DoNotStart {
			_, err = drive(spStopped)
			return genEnd(err)
		}
	}
	if _, err = drive(a.final); err != nil {
		return genEnd(err)
	}
	if a.back {
		_, err = drive(spRunning)
	}
	return genEnd(err)
}

// finalGenChecks runs after the actors returned: one Reproject with no
// fault (a step of its own), then the specification's promises over the
// whole history.
func (s *exSchedule) finalGenChecks(last exApplySnap) error {
	var calls []genCall
	terminalized, ambiguous := 0, false
	for _, a := range s.actors {
		calls = append(calls, a.env.gen...)
		terminalized += a.env.applyObs.terminalized
		ambiguous = ambiguous || a.env.applyObs.ambiguous
	}
	if last.apply != nil {
		p, err := applystate.NewProjector(s.raw, s.raw, applystate.WithClock(func() time.Time { return s.clock.read(0) }),
			applystate.WithLogger(s.log.logger().With("actor", "reproject")))
		if err != nil {
			return err
		}
		r, err := p.Reproject(s.ctx, s.queue)
		if err != nil {
			s.violation("reproject: the final Reproject, with no fault, failed: %v", err)
		}
		if r.Terminalized {
			terminalized++
		}
		snap, err := s.snapshot()
		if err != nil {
			return err
		}
		n := len(s.hist)
		s.trace = append(s.trace, fmt.Sprintf("%3d     the final Reproject → %v", n, snap.ap))
		s.checkSpecStep(n, "the final Reproject", last, snap.ap)
		s.hist = append(s.hist, snap)
	}
	s.checkSpecFinal(calls, terminalized, ambiguous)
	s.checkStamps()
	if err := s.checkDiscovery(calls); err != nil {
		return err
	}
	if err := s.checkApplyPrunes(calls, s.hist[len(s.hist)-1].ap); err != nil {
		return err
	}
	if err := s.checkFinished(calls); err != nil {
		return err
	}
	slices.SortFunc(calls, func(a, b genCall) int {
		return compareFirst(a.steps, b.steps)
	})
	for _, c := range calls {
		s.trace = append(s.trace, "    call: "+c.String())
	}
	return nil
}

func compareFirst(a, b []int) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return -1
	case len(b) == 0:
		return 1
	}
	return a[0] - b[0]
}
