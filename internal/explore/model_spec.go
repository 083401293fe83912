package explore

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/statefold/statefold/applystate"
)

// This file is the executable specification of applystate that the model
// check holds the code to. It is written from the package documentation and
// docs/design.md — the rollout rules of applystate.Rollout's documentation,
// the directives, the invariants and the write protocols — and never calls
// the package's own projection: the code under test may agree with itself and
// still break a promise.
//
// The promises are checked over the history of a schedule: the store after
// every step (hist) and every call the actors made with the steps of its
// store calls and what it returned (the calls).

// spState is the part of the vocabulary the generated scenarios report.
type spState = applystate.State

const (
	spPending   = applystate.Pending
	spRunning   = applystate.Running
	spCompleted = applystate.Completed
	spFailed    = applystate.Failed
	spStopped   = applystate.Stopped
	spPaused    = applystate.Paused
	spDegraded  = applystate.RunningDegraded
	// spReady is the one state between running and settled the generated
	// drive loops report: the work is ready and waits for its cutover.
	spReady = applystate.WaitingForCutover
)

// spSettled: over for good (terminal and not stopped).
func spSettled(s spState) bool {
	switch s {
	case applystate.Completed, applystate.Failed, applystate.Cancelled, applystate.Reverted:
		return true
	}
	return false
}

// spTerminal: final for the apply (settled, or stopped).
func spTerminal(s spState) bool { return spSettled(s) || s == spStopped }

// spDerive is the documented Derive (its rules 1, 4, 7, 10, 13 and 18)
// restricted to what an operation or a set of operations of the generated
// scenarios can be in: any failed → failed, any stopped → stopped, all
// completed → completed, all waiting_for_cutover or completed with at
// least one waiting_for_cutover → waiting_for_cutover, any running →
// running, else pending (a claimed start counts as running).
func spDerive(states []spState) spState {
	if len(states) == 0 {
		return spPending
	}
	has := func(s spState) bool { return slices.Contains(states, s) }
	switch {
	case has(spFailed):
		return spFailed
	case has(spStopped):
		return spStopped
	case !slices.ContainsFunc(states, func(s spState) bool { return s != spCompleted }):
		return spCompleted
	case !slices.ContainsFunc(states, func(s spState) bool { return s != spCompleted && s != spReady }):
		return spReady
	case has(spRunning):
		return spRunning
	}
	return spPending
}

// spChild is one operation as the documented rollout rules see it.
type spChild struct {
	id       string
	state    spState // a claimed start is running
	policy   applystate.Policy
	started  bool // StartedAt set, or a state other than pending and stopped
	orphaned bool
}

// spChildren turns stored rows into the rollout's children, in (Seq, ID)
// order, with the policies the plan declared and the releases recorded on
// the rows (a released pause is continue).
func spChildren(plan []genOp, rows map[string]exOpView) []spChild {
	ordered := slices.Clone(plan)
	slices.SortStableFunc(ordered, func(a, b genOp) int { return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(a.id, b.id)) })
	var out []spChild
	failedGroups := map[string]bool{}
	for _, o := range ordered {
		r, ok := rows[o.id]
		if ok && applystate.Normalize(r.state) == spFailed && !o.finalizer && o.group != "" {
			failedGroups[o.group] = true
		}
	}
	for _, o := range ordered {
		r, ok := rows[o.id]
		if !ok {
			continue
		}
		st := applystate.Normalize(r.state)
		c := spChild{id: o.id, state: st, policy: o.policy, started: !r.started.IsZero() || (st != spPending && st != spStopped)}
		if c.policy == "" {
			c.policy = applystate.Halt
		}
		if r.claimed {
			c.state = spRunning
		}
		if c.policy == applystate.Pause && spReleased(o, r) {
			c.policy = applystate.Continue
		}
		pendingLike := c.state == spPending || (c.state == spStopped && !c.started)
		c.orphaned = o.finalizer && o.group != "" && pendingLike && failedGroups[o.group]
		out = append(out, c)
	}
	return out
}

// spReleased reports whether the row records a release of its pause
// failure: its release stamp, or (as an earlier release wrote it) its
// policy rewritten away from the declared pause.
func spReleased(o genOp, r exOpView) bool {
	return !r.released.IsZero() || (o.policy == applystate.Pause && !strings.EqualFold(r.policy, string(applystate.Pause)))
}

// spRollout is the documented Rollout: see applystate.Rollout's
// documentation, rules 1–3, with the child classes it defines.
func spRollout(children []spChild, stop bool) spState {
	if len(children) == 0 {
		return spPending
	}
	pendingLike := func(c spChild) bool { return c.state == spPending || (c.state == spStopped && !c.started) }
	inert := func(c spChild) bool { return c.orphaned || (stop && c.state == spStopped) }
	holds := func(c spChild) bool { return !spSettled(c.state) && !pendingLike(c) && !inert(c) }
	unfinished := func(c spChild) bool { return !spSettled(c.state) && !inert(c) }
	active := func(c spChild) bool { return holds(c) && c.state != spStopped }
	states := make([]spState, len(children))
	for i, c := range children {
		states[i] = c.state
	}
	base := spDerive(states)
	if base != spFailed {
		var act []spState
		anyStarted := false
		for _, c := range children {
			if active(c) {
				act = append(act, c.state)
			}
			anyStarted = anyStarted || c.started || spSettled(c.state)
		}
		switch {
		case spTerminal(base) && len(act) > 0:
			return spDerive(act)
		case base == spPending && anyStarted:
			return spRunning
		}
		return base
	}
	hard, hold := false, false
	for i, c := range children {
		if c.state != spFailed {
			continue
		}
		switch c.policy {
		case applystate.Continue:
		case applystate.Pause:
			if slices.ContainsFunc(children[i+1:], unfinished) {
				hold = true
			}
		default:
			hard = true
		}
	}
	switch {
	case hard && slices.ContainsFunc(children, holds):
		return spDegraded
	case hard:
		return spFailed
	case hold:
		return spPaused
	case !slices.ContainsFunc(children, unfinished):
		return spFailed
	}
	return spDegraded
}

// spApplyOf is the apply the specification gives for the rows at one step.
func spApplyOf(plan []genOp, snap exApplySnap) spState {
	stop := snap.apply != nil && snap.apply.stop
	return spRollout(spChildren(plan, snap.ops), stop)
}

// spHalted: a failure under halt is stored, so nothing new starts.
func spHalted(plan []genOp, snap exApplySnap) bool {
	for _, o := range plan {
		if r, ok := snap.ops[o.id]; ok && applystate.Normalize(r.state) == spFailed && (o.policy == "" || o.policy == applystate.Halt) {
			return true
		}
	}
	return false
}

// spOrphaned: op is a finalizer a failed work operation of its group
// leaves unable to run.
func spOrphaned(plan []genOp, snap exApplySnap, op string) bool {
	for _, c := range spChildren(plan, snap.ops) {
		if c.id == op {
			return c.orphaned
		}
	}
	return false
}

// spPauseHolds: with op's start claimed, an unreleased failure under pause
// holds the rollout (the specification's rollout over the rows is paused).
func spPauseHolds(plan []genOp, snap exApplySnap, op string) bool {
	rows := maps.Clone(snap.ops)
	r := rows[op]
	if applystate.Normalize(r.state) == spPending {
		r.claimed = true
		rows[op] = r
	}
	for _, o := range plan {
		if o.policy != applystate.Pause {
			continue
		}
		if f, ok := rows[o.id]; ok && applystate.Normalize(f.state) == spFailed && !spReleased(o, f) {
			return spRollout(spChildren(plan, rows), false) == spPaused
		}
	}
	return false
}

// genCall is one applystate call an actor made, as the checks see it.
type genCall struct {
	actor  string
	kind   string // "drive", "stop", "release", "reproject", "plan", "list", "sweep", "prune", "finished"
	op     string
	report spState
	steps  []int // the steps of its store calls
	next   applystate.Directive
	term   bool
	undet  bool
	err    error
	plan   []string  // the plan a CreatePlan call asked for
	token  int64     // the lease a drive loop's call ran under (0: none)
	resume bool      // that lease took over work that may be running
	open   []string  // the applies a ListOpen returned
	more   bool      // a PruneFinished stopped at its limit
	before time.Time // a PruneFinished's cutoff
}

func (c genCall) String() string {
	what := c.kind
	if c.kind == "drive" {
		what = fmt.Sprintf("Drive(%s %s)", c.op, c.report)
	}
	span := "no store call"
	if len(c.steps) > 0 {
		span = fmt.Sprintf("steps %d–%d", c.steps[0], c.steps[len(c.steps)-1])
	}
	res := "ok"
	switch {
	case c.err != nil:
		res = "error: " + c.err.Error()
	case c.kind == "drive":
		res = c.next.String()
	case c.kind == "list":
		res = fmt.Sprintf("open %v", c.open)
	case c.kind == "finished" && c.more:
		res = "ok, More"
	}
	return fmt.Sprintf("actor %s's %s over %s → %s", c.actor, what, span, res)
}

// spStarted: a row in a started state that has not settled and is not
// stopped.
func spStarted(r exOpView) bool {
	st := applystate.Normalize(r.state)
	return st != spPending && !spTerminal(st)
}

// spAllAcked reports whether every row of snap is acknowledged.
func spAllAcked(snap exApplySnap) bool {
	for _, o := range snap.ops {
		if !o.acked {
			return false
		}
	}
	return true
}

// spTerminalApply reports whether the apply of snap exists and is terminal.
func spTerminalApply(snap exApplySnap) bool {
	return snap.apply != nil && spTerminal(applystate.Normalize(snap.apply.state))
}

// checkSpecStep checks the step promises between the store before and
// after step n: rows only move forward, none changes once the apply is
// terminal, a terminal apply never changes, the apply never exists with a
// part of its plan, and never becomes terminal while a row reports started
// work or in another state than the rows give.
func (s *exSchedule) checkSpecStep(n int, desc string, prev, next exApplySnap) {
	g := s.sc.gen
	next = s.spPrunedView(prev, next)
	if next.apply != nil {
		for _, id := range g.planIDs() {
			if _, ok := next.ops[id]; !ok && !g.plan {
				s.violation("plan: after step %d (%s) the apply exists without operation %s", n, desc, id)
			}
		}
	}
	wasTerminal := spTerminalApply(prev)
	if wasTerminal && (next.apply == nil || next.apply.state != prev.apply.state) {
		s.violation("terminal: step %d (%s) moved the terminal apply from %s to %v", n, desc, prev.apply.state, next.apply)
	}
	if spTerminalApply(next) && !wasTerminal {
		for _, id := range slices.Sorted(maps.Keys(next.ops)) {
			if spStarted(next.ops[id]) {
				s.violation("target: after step %d (%s) the apply is %s while operation %s reports started work (%s)", n, desc, next.apply.state, id, next.ops[id])
			}
		}
		if want := spApplyOf(g.ops, next); applystate.Normalize(next.apply.state) != want {
			s.violation("terminal state: step %d (%s) made the apply %s, but the stored rows give %s (%s)", n, desc, next.apply.state, want, next)
		}
	}
	if next.apply != nil && !spTerminalApply(next) && len(next.ops) > 0 {
		// A poll of an acknowledged row that changes nothing reads the row
		// and the apply only, and every apply write after a row's
		// acknowledgement lists the row: once every row is acknowledged
		// nothing repairs the apply, so it must be the rows' projection.
		if want := spApplyOf(g.ops, next); spAllAcked(next) && applystate.Normalize(next.apply.state) != want &&
			!(spAllAcked(prev) && prev.apply != nil && prev.apply.state == next.apply.state && spApplyOf(g.ops, prev) == want) {
			s.violation("acknowledged: after step %d (%s) every row is acknowledged, yet the apply is %s while the rows give %s (%s)", n, desc, next.apply.state, want, next)
		}
	}
	for id, p := range prev.ops {
		o, ok := next.ops[id]
		if !ok {
			s.violation("forward: step %d (%s) deleted operation %s", n, desc, id)
			continue
		}
		ps, ns := applystate.Normalize(p.state), applystate.Normalize(o.state)
		changed := o.state != p.state || o.claimed != p.claimed || o.msg != p.msg || !o.started.Equal(p.started) || !o.completed.Equal(p.completed)
		switch {
		case !changed:
		case wasTerminal:
			s.violation("forward: step %d (%s) changed operation %s from %s to %s after the apply was %s", n, desc, id, p, o, prev.apply.state)
		case spSettled(ps):
			s.violation("forward: step %d (%s) changed the settled operation %s from %s to %s", n, desc, id, p, o)
		case ps == spStopped && !spSettled(ns) && ns != spStopped:
			s.violation("forward: step %d (%s) moved the stopped operation %s to %s", n, desc, id, o)
		case ps != spPending && ps != spStopped && ns == spPending:
			s.violation("forward: step %d (%s) moved the started operation %s back to pending (%s → %s)", n, desc, id, p, o)
		}
	}
}

// genProceed is a Proceed some Drive returned: the operation, the call,
// and the step its start was claimed at (0 when it had started before).
type genProceed struct {
	call  genCall
	claim int
}

// checkSpecFinal checks the promises over the whole history, after the
// actors returned and once more after one Reproject with no fault.
func (s *exSchedule) checkSpecFinal(calls []genCall, terminalized int, ambiguous bool) {
	g := s.sc.gen
	hist := make([]exApplySnap, len(s.hist))
	for i, h := range s.hist {
		hist[i] = h.ap
	}
	s.spPrunedHistory(hist)
	s.checkReprojectRepairs(g, calls, hist)
	var proceeds []genProceed
	for _, c := range calls {
		if c.kind != "drive" || c.err != nil || c.next != applystate.Proceed || len(c.steps) == 0 {
			continue
		}
		first, last := c.steps[0], c.steps[len(c.steps)-1]
		before := hist[first-1]
		if before.apply != nil && (before.apply.stop || spTerminalApply(before)) {
			s.violation("proceed: %s, but before the call the apply was %s (stop requested: %v)", c, before.apply.state, before.apply.stop)
			continue
		}
		// The step that claimed the start: the last one up to the end of
		// the call that took the row out of unclaimed pending.
		claim := 0
		for k := last; k >= 1; k-- {
			p, n := hist[k-1].ops[c.op], hist[k].ops[c.op]
			if applystate.Normalize(p.state) == spPending && !p.claimed && (n.claimed || applystate.Normalize(n.state) != spPending) {
				claim = k
				break
			}
		}
		if st := applystate.Normalize(hist[last].ops[c.op].state); claim == 0 || (st != spPending && st != spStopped && claim < first) {
			// Started before: Proceed is "carry on".
			proceeds = append(proceeds, genProceed{call: c, claim: max(claim, 0)})
			continue
		}
		at := hist[claim-1]
		switch {
		case at.apply == nil:
			s.violation("proceed: %s, but its start was claimed at step %d before the apply existed", c, claim)
		case at.apply.stop || spTerminalApply(at):
			s.violation("proceed: %s, but its start was claimed at step %d over an apply %s (stop requested: %v)", c, claim, at.apply.state, at.apply.stop)
		case spOrphaned(g.ops, at, c.op):
			s.violation("proceed: %s, but its start was claimed at step %d while a work operation of its group had failed: a finalizer that can never run (%s)", c, claim, at)
		case spHalted(g.ops, at):
			s.violation("proceed: %s, but its start was claimed at step %d while a failure under halt was stored (%s)", c, claim, at)
		case spPauseHolds(g.ops, at, c.op):
			s.violation("proceed: %s, but its start was claimed at step %d while an unreleased failure under pause was stored (%s)", c, claim, at)
		}
		proceeds = append(proceeds, genProceed{call: c, claim: claim})
	}
	// A start told Proceed holds the apply open until it settles or stops,
	// and never returns to pending.
	for _, p := range proceeds {
		if p.claim == 0 {
			continue
		}
		for k := p.claim; k < len(hist); k++ {
			r := hist[k].ops[p.call.op]
			if applystate.Normalize(r.state) == spPending && !r.claimed {
				s.violation("proceed: %s, but at step %d its start was given back (%s)", p.call, k, r)
				break
			}
			if spTerminalApply(hist[k]) && !spTerminal(applystate.Normalize(r.state)) {
				s.violation("target: %s, yet at step %d the apply is %s while %s is %s", p.call, k, hist[k].apply.state, p.call.op, r)
				break
			}
		}
	}
	// Ownership: one Proceed per operation among its owners (a takeover is
	// told Resume), and a loop writes its operation's row only while the
	// row holds its lease; one told it lost the lease wrote nothing.
	if g.owned {
		proceeded := map[string]map[int64]bool{}
		for _, c := range calls {
			if c.kind == "drive" && c.err == nil && c.next == applystate.Proceed && c.report == spPending {
				if proceeded[c.op] == nil {
					proceeded[c.op] = map[int64]bool{}
				}
				proceeded[c.op][c.token] = true
				if c.resume {
					s.violation("owner: %s under a lease that took over work that may be running (token %d), but a takeover is told Resume", c, c.token)
				}
			}
		}
		for op, tokens := range proceeded {
			if len(tokens) > 1 {
				s.violation("owner: operation %s was told Proceed under %d leases (tokens %v): two loops would start the same work", op, len(tokens), slices.Sorted(maps.Keys(tokens)))
			}
		}
		for _, c := range calls {
			if (c.kind != "drive" && c.kind != "renew") || c.token == 0 {
				continue
			}
			for _, k := range c.steps {
				p, n := hist[k-1].ops[c.op], hist[k].ops[c.op]
				// A terminal decision's seal rewrites rows unchanged (a new
				// version only): not a move of the row.
				moved := p.state != n.state || p.claimed != n.claimed || p.msg != n.msg || !p.started.Equal(n.started) ||
					!p.completed.Equal(n.completed) || p.owner != n.owner || p.token != n.token || !p.released.Equal(n.released)
				if moved && (p.token != c.token || p.owner != "loop-"+c.actor) {
					s.violation("owner: %s wrote operation %s at step %d under token %d, but the row held owner %q token %d", c, c.op, k, c.token, p.owner, p.token)
				}
				// A loop whose lease was taken over before its call began
				// writes nothing at all. (One that loses it during a call
				// may still land the apply's writes — projections of the
				// rows, conditioned on the apply's own version — but never
				// its row.)
				if pa, na := hist[k-1].apply, hist[k].apply; c.kind == "drive" && pa != nil && na != nil && pa.version != na.version {
					if first := hist[c.steps[0]-1].ops[c.op]; first.token != c.token {
						s.violation("owner: %s wrote the apply at step %d, yet another lease (token %d) held the operation before the call began: a stale owner writes nothing", c, k, first.token)
					}
				}
			}
		}
	}
	// Releases: a row records a release only in a ReleasePause call, and
	// only of a failure: a pause operation that fails after the release
	// holds again.
	owner := map[int]genCall{}
	for _, c := range calls {
		for _, k := range c.steps {
			owner[k] = c
		}
	}
	for k := 1; k < len(hist); k++ {
		for _, o := range g.ops {
			if o.policy != applystate.Pause {
				continue
			}
			p, okp := hist[k-1].ops[o.id]
			n, okn := hist[k].ops[o.id]
			if !okp || !okn || spReleased(o, p) || !spReleased(o, n) {
				continue
			}
			c, ok := owner[k]
			if !ok || c.kind != "release" {
				s.violation("release: step %d released %s's pause outside a ReleasePause", k, o.id)
				continue
			}
			if applystate.Normalize(p.state) != spFailed {
				s.violation("release: %s released %s at step %d, which was %s: only failures are released", c, o.id, k, p)
			}
		}
	}
	// CreatePlan: a plan that returned success is the apply's plan.
	last := hist[len(hist)-1]
	for _, c := range calls {
		if c.kind != "plan" || c.err != nil {
			continue
		}
		have := slices.Sorted(maps.Keys(last.ops))
		if want := slices.Sorted(slices.Values(c.plan)); !slices.Equal(have, want) || last.apply == nil {
			s.violation("plan: %s returned success for the plan %v, but the store holds operations %v (apply: %v)", c, want, have, last.apply)
		}
	}
	// A stop that returned moved every unclaimed pending operation to
	// stopped; once the actors stopped and a Reproject ran, a stopped
	// rollout without started work is settled.
	for _, c := range calls {
		if c.kind != "stop" || c.err != nil || len(c.steps) == 0 {
			continue
		}
		at := hist[c.steps[len(c.steps)-1]]
		if spTerminalApply(at) {
			continue
		}
		for _, id := range slices.Sorted(maps.Keys(at.ops)) {
			if r := at.ops[id]; applystate.Normalize(r.state) == spPending && !r.claimed {
				s.violation("stop: %s returned, but operation %s is still pending and unclaimed (%s)", c, id, r)
			}
		}
	}
	if last.apply != nil && last.apply.stop && !spTerminalApply(last) {
		busy := false
		for _, r := range last.ops {
			busy = busy || spStarted(r) || r.claimed
		}
		if !busy {
			s.violation("stop: a stop was requested and no operation has started work, but after the final Reproject the apply is %s (%s)", last.apply.state, last)
		}
	}
	// When every call of every actor succeeded (no crash, no error, no
	// refusal), the last writer left the apply projected over the rows:
	// no Reproject is needed. The state before the final Reproject.
	settled := len(hist) >= 2
	for _, c := range calls {
		settled = settled && c.err == nil && !c.undet
	}
	if settled && !g.plan {
		before := hist[len(hist)-2]
		if before.apply != nil && applystate.Normalize(before.apply.state) != spApplyOf(g.ops, before) {
			s.violation("projection: every call succeeded, yet before any Reproject the apply is %s while the rows give %s (%s)", before.apply.state, spApplyOf(g.ops, before), before)
		}
	}
	terminal := spTerminalApply(last)
	if spTerminalApply(hist[0]) {
		// Terminal from the start: nobody terminalizes it.
		if terminalized > 0 {
			s.violation("terminalized: a caller saw Terminalized on an apply that was %s from the start", hist[0].apply.state)
		}
		terminal = false
		terminalized = 0
	}
	s.checkTerminalized(terminal, terminalized, ambiguous, last.apply)
	if last.apply != nil {
		if want := spApplyOf(g.ops, last); applystate.Normalize(last.apply.state) != want {
			s.violation("reproject: once the actors stopped and one Reproject ran, the apply is %s, but the rows give %s (%s)", last.apply.state, want, last)
		}
	}
}

var errGenCrash = errors.New("storagetest: the actor crashed")
