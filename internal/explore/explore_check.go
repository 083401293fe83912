package explore

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/internal/faultstore"
	"github.com/statefold/statefold/storage"
)

// exBatch is what the checks compare of a stored batch.
type exBatch struct {
	state   string
	version int64
	payload string
}

func (b exBatch) String() string { return fmt.Sprintf("%s v%d", b.state, b.version) }

// exRow is the key of an index row.
type exRow struct{ state, id string }

// exSnap is what the store holds of a scenario's batches and their index
// rows (version by row) at one step.
type exSnap struct {
	batches map[string]exBatch
	rows    map[exRow]int64
	ap      exApplySnap // applystate scenarios
}

func (s exSnap) clone() exSnap {
	return exSnap{batches: maps.Clone(s.batches), rows: maps.Clone(s.rows), ap: s.ap.clone()}
}

func (s exSnap) String() string {
	if s.ap.apply != nil || len(s.ap.ops) > 0 {
		return s.ap.String()
	}
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(s.batches)) {
		parts = append(parts, fmt.Sprintf("%s %s v%d", id, s.batches[id].state, s.batches[id].version))
	}
	for _, r := range slices.SortedFunc(maps.Keys(s.rows), func(a, b exRow) int {
		return cmp.Or(cmp.Compare(a.state, b.state), cmp.Compare(a.id, b.id))
	}) {
		parts = append(parts, fmt.Sprintf("row (%s, %s)", r.state, r.id))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (s exSnap) equal(o exSnap) bool {
	return maps.Equal(s.batches, o.batches) && maps.Equal(s.rows, o.rows) && s.ap.equal(o.ap)
}

// rowsOf lists the states holding a row of id, in machine order.
func (s exSnap) rowsOf(m batchstate.Machine, id string) []string {
	var out []string
	for _, st := range m.NonTerminal() {
		if _, ok := s.rows[exRow{st, id}]; ok {
			out = append(out, st)
		}
	}
	return out
}

// exFinal reports whether a stored state is one a batch never leaves: a
// terminal state of the machine, or the state of a tombstone.
func exFinal(m batchstate.Machine, state string) bool {
	return state == exAbandoned() || m.IsTerminal(state)
}

// exAbandoned is the state of the tombstone batchstate writes in place of a
// batch whose Create never finished.
func exAbandoned() string { return batchstate.Abandoned }

func (s *exSchedule) isID(id string) bool { return slices.Contains(s.sc.ids, id) }

// snapshot reads the scenario's batches and every indexed bucket from the
// real store.
func (s *exSchedule) snapshot() (exSnap, error) {
	snap := exSnap{batches: make(map[string]exBatch), rows: make(map[exRow]int64)}
	if s.sc.apply != nil {
		var err error
		snap.ap, err = s.readApply()
		return snap, err
	}
	bs, err := s.raw.GetBatches(s.ctx, s.queue, s.sc.ids)
	if err != nil {
		return snap, fmt.Errorf("check: get batches: %w", err)
	}
	for _, b := range bs {
		if s.isID(b.ID) {
			snap.batches[b.ID] = exBatch{b.State, b.Version, string(b.Payload)}
		}
	}
	for _, st := range s.sc.mach().NonTerminal() {
		if err := s.readBucket(snap, st); err != nil {
			return snap, err
		}
	}
	return snap, nil
}

func (s *exSchedule) readBucket(snap exSnap, state string) error {
	ms, err := s.raw.ListMembers(s.ctx, s.queue, state)
	if err != nil {
		return fmt.Errorf("check: list members %q: %w", state, err)
	}
	for k := range snap.rows {
		if k.state == state {
			delete(snap.rows, k)
		}
	}
	for _, m := range ms {
		if s.isID(m.BatchID) {
			snap.rows[exRow{state, m.BatchID}] = m.Version
		}
	}
	return nil
}

// refresh returns prev with what call c may have written read back.
func (s *exSchedule) refresh(prev exSnap, c *exCall) (exSnap, error) {
	next := prev.clone()
	if s.sc.apply != nil {
		var err error
		next.ap, err = s.readApply()
		return next, err
	}
	if c.batch != "" && s.isID(c.batch) {
		b, err := s.raw.GetBatch(s.ctx, s.queue, c.batch)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			delete(next.batches, c.batch)
		case err != nil:
			return next, fmt.Errorf("check: get batch %q: %w", c.batch, err)
		default:
			next.batches[c.batch] = exBatch{b.State, b.Version, string(b.Payload)}
		}
	}
	if c.bucket != "" && slices.Contains(s.sc.mach().NonTerminal(), c.bucket) {
		if err := s.readBucket(next, c.bucket); err != nil {
			return next, err
		}
	}
	return next, nil
}

// exMissingRow reports whether snap breaks I for id: stored in a live state
// without that state's row.
func exMissingRow(m batchstate.Machine, snap exSnap, id string) (exBatch, bool) {
	b, ok := snap.batches[id]
	if !ok || exFinal(m, b.state) {
		return b, false
	}
	_, has := snap.rows[exRow{b.state, id}]
	return b, !has
}

// checkStep checks I on the store after step n and IV between the store
// before and after it. A broken I is reported at the step that broke it.
func (s *exSchedule) checkStep(n int, desc string, prev, next exSnap) {
	if s.sc.gen != nil {
		s.checkSpecStep(n, desc, prev.ap, next.ap)
		return
	}
	if s.sc.apply != nil {
		s.checkApplyStep(n, desc, prev.ap, next.ap)
		return
	}
	for _, id := range s.sc.ids {
		if b, broken := exMissingRow(s.sc.mach(), next, id); broken {
			if _, before := exMissingRow(s.sc.mach(), prev, id); !before {
				s.violation("I: after step %d (%s): batch %q is stored %s but its bucket %q has no row for it", n, desc, id, b, b.state)
			}
		}
		p, had := prev.batches[id]
		b, has := next.batches[id]
		switch {
		case had && !has:
			s.violation("IV: step %d (%s) deleted batch %q (was %s)", n, desc, id, p)
		case !had || p == b, s.exPruneStep(p, b):
		case exFinal(s.sc.mach(), p.state):
			s.violation("IV: step %d (%s) changed batch %q, stored in the final state %q, from %s to %s", n, desc, id, p.state, p, b)
		case b.state == exAbandoned():
			s.violation("IV: step %d (%s) abandoned batch %q, stored %s", n, desc, id, p)
		case b.state != p.state && !s.sc.mach().Allowed(p.state, b.state):
			s.violation("IV: step %d (%s) moved batch %q from %q to %q, a move the machine does not allow", n, desc, id, p.state, b.state)
		case b.version <= p.version:
			s.violation("IV: step %d (%s) rewrote batch %q from %s to %s without a new version", n, desc, id, p, b)
		}
	}
}

// finalChecks runs after the actors returned: the store against the last
// step's reading, II and III for every List, the Creates, then V.
func (s *exSchedule) finalChecks() error {
	last := s.hist[len(s.hist)-1]
	if s.verify {
		snap, err := s.snapshot()
		if err != nil {
			return err
		}
		if !snap.equal(last) {
			if !s.paired {
				s.violation("store: it holds %v, but after the last step it held %v: something other than the scheduled calls wrote to the scenario's queue", snap, last)
				return nil
			}
			// Through another handle a write can land after its call
			// returned (a lost connection whose statement the server
			// still ran): the change is checked as a step of its own, and
			// the final checks read the store as it is.
			s.late = true
			n := len(s.hist)
			desc := "a write that landed after its call returned"
			s.trace = append(s.trace, fmt.Sprintf("%3d     %s: %v → %v", n, desc, last, snap))
			s.checkStep(n, desc, last, snap)
			s.hist = append(s.hist, snap)
			last = snap
		}
	}
	if s.sc.gen != nil {
		return s.finalGenChecks(last.ap)
	}
	if s.sc.apply != nil {
		return s.finalApplyChecks(last.ap)
	}
	s.checkLease()
	for _, a := range s.actors {
		for _, l := range a.env.lists {
			s.checkList(a, l)
		}
		s.checkLookups(a)
		if err := s.checkPrunes(a); err != nil {
			return err
		}
		for _, c := range a.env.creates {
			if c.err != nil || s.exPruned(c.id) {
				continue
			}
			if b, ok := last.batches[c.id]; !ok || b.state == exAbandoned() {
				s.violation("Create: actor %s's Create of %q returned success, but after the last step the batch is %s", a.letter, c.id, exDescribe(b, ok))
			}
		}
	}
	// V: after a jump past the grace — as measured by the clock of every
	// writer, so by the one most ahead too — one Reconcile with no fault
	// leaves exactly the row of every live batch.
	jump := exGrace + time.Minute
	for _, a := range s.sc.actors {
		jump = max(jump, exGrace+time.Minute+a.skew)
	}
	s.clock.advance(jump)
	s.trace = append(s.trace, fmt.Sprintf("    +t  the clock jumps %s; Reconcile converges", jump))
	o, err := s.factory(OrchestratorConfig{Store: s.raw, Machine: s.sc.mach(), Grace: exGrace, Indexed: s.sc.indexed,
		Logger: s.log.logger().With("actor", "converge"), Clock: func() time.Time { return s.clock.read(0) }})
	if err != nil {
		return fmt.Errorf("build the converging orchestrator: %w", err)
	}
	if _, err := o.Reconcile(s.ctx, s.queue); err != nil {
		s.violation("V: the converging Reconcile, with no fault and the grace elapsed, failed: %v", err)
	}
	end, err := s.snapshot()
	if err != nil {
		return err
	}
	for _, id := range s.sc.ids {
		b, ok := end.batches[id]
		var want []string
		if ok && !exFinal(s.sc.mach(), b.state) {
			want = []string{b.state}
		}
		if got := end.rowsOf(s.sc.mach(), id); !slices.Equal(got, want) {
			s.violation("V: after the converging Reconcile, batch %q (%s) has rows in %q, want %q", id, exDescribe(b, ok), got, want)
		}
	}
	return nil
}

func exDescribe(b exBatch, ok bool) string {
	if !ok {
		return "missing"
	}
	return "stored " + b.String()
}

// checkList checks II and III for one List call that returned: its window
// runs from the store as its first call saw it to the store after its last.
func (s *exSchedule) checkList(a *exActor, l exListObs) {
	if l.err != nil || len(l.steps) == 0 {
		return
	}
	first, lastStep := l.steps[0], l.steps[len(l.steps)-1]
	window := s.hist[first-1 : lastStep+1]
	what := fmt.Sprintf("actor %s's List(%s) over steps %d–%d", a.letter, strings.Join(l.states, ", "), first, lastStep)
	seen := make(map[string]bool)
	for _, b := range l.got {
		switch {
		case seen[b.ID]:
			s.violation("II: %s returned batch %q twice", what, b.ID)
			continue
		case b.Queue != s.queue:
			s.violation("II: %s returned batch %q of another queue", what, b.ID)
		case !s.isID(b.ID):
			s.violation("II: %s returned %q, which is no batch of the scenario", what, exID(b.ID))
		case !slices.Contains(l.states, b.State):
			s.violation("II: %s returned batch %q in %q, a state it did not ask for", what, b.ID, b.State)
		default:
			got := exBatch{b.State, b.Version, string(b.Payload)}
			if !slices.ContainsFunc(window, func(snap exSnap) bool { return snap.batches[b.ID] == got }) {
				var stored []string
				for _, snap := range window {
					stored = append(stored, exDescribe(snap.batches[b.ID], snap.batches[b.ID] != exBatch{}))
				}
				s.violation("II: %s returned batch %q as %s, but during the call it was stored %s", what, b.ID, got, strings.Join(slices.Compact(stored), ", then "))
			}
		}
		seen[b.ID] = true
	}
	for _, id := range s.sc.ids {
		if seen[id] {
			continue
		}
		always := true
		var states []string
		for _, snap := range window {
			b, ok := snap.batches[id]
			if !ok || !slices.Contains(l.states, b.state) {
				always = false
				break
			}
			states = append(states, b.state)
		}
		if always {
			s.violation("III: %s missed batch %q, stored in %s throughout the call", what, id, strings.Join(slices.Compact(states), " then "))
		}
	}
}

// checkLease checks, for the actors that run Reconcile, that a Reconcile
// removes rows of live batches — the removals bounded by a version — only
// while it holds the queue's lease: the last write to the lease row that
// landed before the removal is its own. A second concurrent Reconcile
// finds the lease held and leaves those rows for the next run. Removals
// after a clock jump are exempt: a jump outlasts the lease, which then
// expires under a Reconcile that stalled (III assumes no such stall); so
// are removals in the buckets of the key and finished indexes, which a
// Lookup reads one at a time and which need no lease.
func (s *exSchedule) checkLease() {
	holder := "" // the actor whose lease write landed last
	for _, r := range s.done {
		a, c := r.actor, r.call
		if a.spec.reconciler && c.method == faultstore.RemoveMember && r.ran && c.bound != math.MaxInt64 &&
			holder != a.letter && r.jumps == 0 && s.sc.mach().Known(c.bucket) {
			who := "nobody"
			if holder != "" {
				who = "actor " + holder
			}
			s.violation("lease: actor %s's Reconcile made step %d (%s) while the queue's lease was last taken by %s: a Reconcile removes rows of live batches only while it holds the lease", a.letter, c.step, c.desc, who)
		}
		if c.batch == batchstate.LeaseID && r.landed {
			holder = a.letter
		}
	}
}
