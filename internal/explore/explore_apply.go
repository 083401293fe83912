package explore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
)

// The applystate scenarios: actors drive, stop, release and reproject one
// apply (its id is the schedule's queue name) over the scheduled store.
// Each actor has its own Projector, as separate processes would.

// exApplySpec is the apply an applystate scenario starts from: the
// operations in rollout order with their policy and stored state, the
// apply projected over them and every row acknowledged. With plan, the
// setup writes nothing and an actor creates the plan.
type exApplySpec struct {
	ops  []exOpSpec
	plan bool
}

// exOpSpec is one operation of an applystate scenario.
type exOpSpec struct {
	id     string
	policy applystate.Policy
	state  applystate.State
}

// exOpView is what the checks compare of a stored operation.
type exOpView struct {
	state     string
	policy    string
	claimed   bool // pending with StartedAt set: a claimed start
	msg       string
	started   time.Time
	completed time.Time
	released  time.Time // when a ReleasePause released its failure
	owner     string    // the drive loop that owns it, and its token
	token     int64
	version   int64
	acked     bool // acknowledged (applystate.Acknowledged)
}

func (o exOpView) String() string {
	c := ""
	if o.claimed {
		c = " (claimed)"
	}
	if !o.acked {
		c += " unacknowledged"
	}
	return fmt.Sprintf("%s%s v%d", o.state, c, o.version)
}

// exApplyView is what the checks compare of the stored apply.
type exApplyView struct {
	state   string
	stop    bool
	version int64
}

// exApplySnap is the apply and its operations at one step; apply is nil
// while the apply does not exist.
type exApplySnap struct {
	apply *exApplyView
	ops   map[string]exOpView
	fin   exFinView // the index rows and their applies (model_finished.go)
}

func (s exApplySnap) clone() exApplySnap {
	out := exApplySnap{ops: maps.Clone(s.ops), fin: s.fin}
	if s.apply != nil {
		a := *s.apply
		out.apply = &a
	}
	return out
}

func (s exApplySnap) equal(o exApplySnap) bool {
	if (s.apply == nil) != (o.apply == nil) || (s.apply != nil && *s.apply != *o.apply) || !equalFin(s.fin, o.fin) {
		return false
	}
	return maps.EqualFunc(s.ops, o.ops, func(a, b exOpView) bool {
		return a.state == b.state && a.policy == b.policy && a.claimed == b.claimed && a.msg == b.msg &&
			a.started.Equal(b.started) && a.completed.Equal(b.completed) && a.released.Equal(b.released) && a.owner == b.owner && a.token == b.token && a.version == b.version && a.acked == b.acked
	})
}

func (s exApplySnap) String() string {
	var b strings.Builder
	if s.apply == nil {
		b.WriteString("apply missing")
	} else {
		fmt.Fprintf(&b, "apply %s v%d stop=%v", s.apply.state, s.apply.version, s.apply.stop)
	}
	for _, id := range slices.Sorted(maps.Keys(s.ops)) {
		fmt.Fprintf(&b, ", %s %s", id, s.ops[id])
	}
	return b.String()
}

// readApply reads the scenario's apply and operations from the real store.
func (s *exSchedule) readApply() (exApplySnap, error) {
	snap := exApplySnap{ops: make(map[string]exOpView)}
	a, err := s.raw.GetApply(s.ctx, s.queue)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return snap, fmt.Errorf("check: get apply: %w", err)
	default:
		snap.apply = &exApplyView{state: a.State, stop: a.StopRequested, version: a.Version}
	}
	ops, err := s.raw.ListOperations(s.ctx, s.queue)
	if err != nil {
		return snap, fmt.Errorf("check: list operations: %w", err)
	}
	for _, op := range ops {
		snap.ops[op.ID] = exOpView{state: op.State, policy: op.OnFailure, msg: op.ErrorMessage, version: op.Version,
			claimed: applystate.Normalize(op.State) == applystate.Pending && !op.StartedAt.IsZero(),
			started: op.StartedAt, completed: op.CompletedAt, released: op.ReleasedAt, owner: op.Owner, token: op.OwnerToken, acked: applystate.Acknowledged(op)}
	}
	return snap, s.readFinished(&snap)
}

// setupApply writes the scenario's starting apply: the operations in their
// states, then the apply as their projection, every row acknowledged.
func (s *exSetup) setupApply(spec *exApplySpec, id string) error {
	if spec.plan {
		return nil
	}
	now := s.clock.read(0).Truncate(time.Microsecond)
	var ops []storage.Operation
	for i, o := range spec.ops {
		op := storage.Operation{ApplyID: id, ID: o.id, Seq: int64(i), Deployment: "dep-" + o.id, State: string(o.state),
			OnFailure: string(o.policy), Projected: true, ProjectedVersion: 1, CreatedAt: now, UpdatedAt: now}
		if o.state != applystate.Pending {
			op.StartedAt = now
		}
		if o.state.Settled() {
			op.CompletedAt = now
		}
		if o.state == applystate.Failed {
			op.ErrorMessage = "boom"
		}
		created, err := s.store.CreateOperation(s.ctx, op)
		if err != nil {
			return err
		}
		ops = append(ops, created)
	}
	st := applystate.Rollout(applystate.Children(ops), applystate.Flags{})
	a := storage.Apply{ID: id, State: string(st), CreatedAt: now, UpdatedAt: now}
	if st != applystate.Pending {
		a.StartedAt = now
	}
	_, err := s.store.CreateApply(s.ctx, a)
	return err
}

// exApplyObs is what an actor of an applystate scenario saw.
type exApplyObs struct {
	terminalized int
	ambiguous    bool
	// undetermined: its last call was refused on incomplete information
	// (a listing that failed) every time it polled.
	undetermined bool
	// failed: a call returned an error, retried or not. A write of it may
	// have landed without its caller knowing (the grant of a claim whose
	// response and read-back were lost), so the caller cannot be expected
	// to run or give back what that write did.
	failed bool
	// proceeded are the operations this actor was told to start.
	proceeded []string
}

// newProjector builds the actor's Projector over its scheduled store.
func (s *exSchedule) newProjector(a *exActor) (*applystate.Projector, error) {
	opts := []applystate.Option{applystate.WithClock(s.clock.reader(a.spec.skew, a.spec.still)),
		applystate.WithLogger(s.log.logger().With("actor", a.letter)),
		applystate.WithObserver(func(_ context.Context, r applystate.Result) {
			if r.Terminalized {
				a.env.applyObs.terminalized++
			}
		})}
	if s.sc.gen != nil && s.sc.gen.discover {
		opts = append(opts, genDiscoveryOptions(a.store, s.queue)...)
	}
	return applystate.NewProjector(a.store, a.store, opts...)
}

// exRetries is how often an applystate actor calls again after an error,
// as a drive loop polls again.
const exRetries = 3

// errUndetermined makes retry poll again after a result refused on
// incomplete information, as a drive loop would.
var errUndetermined = errors.New("undetermined: poll again")

// retry runs call until it succeeds, at most 1+exRetries times, noting an
// ambiguous apply write and a last result that stayed undetermined.
func (e *exEnv) retry(call func() error) error {
	var err error
	for range 1 + exRetries {
		if err = call(); err == nil {
			e.applyObs.undetermined = false
			return nil
		}
		if !errors.Is(err, errUndetermined) {
			e.applyObs.failed = true
		}
		if errors.Is(err, applystate.ErrAmbiguous) {
			e.applyObs.ambiguous = true
		}
	}
	if errors.Is(err, errUndetermined) {
		e.applyObs.undetermined = true
		return nil
	}
	return err
}

// outcome turns a result refused on incomplete information into
// errUndetermined.
func outcome(r applystate.Result, err error) error {
	if err == nil && r.Undetermined {
		return errUndetermined
	}
	return err
}

// drive reports operation id in state st (polling again after an error) and
// returns the directive.
func (e *exEnv) drive(ctx context.Context, id string, st applystate.State) (applystate.Directive, error) {
	var next applystate.Directive
	err := e.retry(func() error {
		r, err := e.p.Drive(ctx, e.queue, []applystate.Task{{OperationID: id, State: st, ErrorMessage: "boom"}})
		next = r.Next
		return outcome(r, err)
	})
	return next, err
}

// deploy is a drive loop for operation id: ask to start, and when told to
// proceed, run to final (completed or failed), as a deployment would.
func (e *exEnv) deploy(ctx context.Context, id string, final applystate.State) error {
	next, err := e.drive(ctx, id, applystate.Pending)
	if err != nil || next != applystate.Proceed {
		return err
	}
	e.applyObs.proceeded = append(e.applyObs.proceeded, id)
	if _, err := e.drive(ctx, id, applystate.Running); err != nil {
		return err
	}
	_, err = e.drive(ctx, id, final)
	return err
}

func exDeploy(id string, final applystate.State) *exActorSpec {
	return &exActorSpec{name: fmt.Sprintf("deploy %s: Drive(pending), on Proceed running then %s", id, final),
		run: func(ctx context.Context, e *exEnv) error { return e.deploy(ctx, id, final) }}
}

func exReport(id string, st applystate.State) *exActorSpec {
	return &exActorSpec{name: fmt.Sprintf("Drive(%s %s)", id, st),
		run: func(ctx context.Context, e *exEnv) error { _, err := e.drive(ctx, id, st); return err }}
}

func exApplyCall(name string, call func(p *applystate.Projector, ctx context.Context, id string) (applystate.Result, error)) *exActorSpec {
	return &exActorSpec{name: name, run: func(ctx context.Context, e *exEnv) error {
		return e.retry(func() error { return outcome(call(e.p, ctx, e.queue)) })
	}}
}

var (
	exStopper    = exApplyCall("Stop", (*applystate.Projector).Stop)
	exReprojects = exApplyCall("Reproject", (*applystate.Projector).Reproject)
	exReleaser   = exApplyCall("ReleasePause", (*applystate.Projector).ReleasePause)
)

func exOps(ops ...exOpSpec) *exApplySpec { return &exApplySpec{ops: ops} }

func exOp(id string, policy applystate.Policy, st applystate.State) exOpSpec {
	return exOpSpec{id: id, policy: policy, state: st}
}

// exApplyScenarios are the applystate scenarios.
var exApplyScenarios = []*exScenario{
	{
		name: "DriveHaltDrive", doc: "A fails under halt while B asks to start",
		apply:  exOps(exOp("A", applystate.Halt, applystate.Running), exOp("B", "", applystate.Pending)),
		actors: []*exActorSpec{exReport("A", applystate.Failed), exDeploy("B", applystate.Completed)},
	},
	{
		name: "DriveContinueDrive", doc: "A fails under continue while B asks to start",
		apply:  exOps(exOp("A", applystate.Continue, applystate.Running), exOp("B", "", applystate.Pending)),
		actors: []*exActorSpec{exReport("A", applystate.Failed), exDeploy("B", applystate.Completed)},
	},
	{
		name: "DrivePauseDrive", doc: "A fails under pause while B asks to start and C completes",
		apply: exOps(exOp("A", applystate.Pause, applystate.Running), exOp("B", "", applystate.Pending),
			exOp("C", "", applystate.Running)),
		actors: []*exActorSpec{exReport("A", applystate.Failed), exDeploy("B", applystate.Completed), exReport("C", applystate.Completed)},
	},
	{
		name: "StopDrivePending", doc: "a Stop while B asks to start and A completes",
		apply:  exOps(exOp("A", "", applystate.Running), exOp("B", "", applystate.Pending)),
		actors: []*exActorSpec{exStopper, exDeploy("B", applystate.Completed), exReport("A", applystate.Completed)},
	},
	{
		name: "DriveCompletingReproject", doc: "A completes the rollout while a Reproject runs",
		apply:  exOps(exOp("A", "", applystate.Running), exOp("B", "", applystate.Completed)),
		actors: []*exActorSpec{exReport("A", applystate.Completed), exReprojects},
	},
	{
		name: "ReleasePauseDrive", doc: "a ReleasePause while B asks to start and C fails under pause",
		apply: exOps(exOp("A", applystate.Pause, applystate.Failed), exOp("B", "", applystate.Pending),
			exOp("C", applystate.Pause, applystate.Running)),
		actors: []*exActorSpec{exReleaser, exDeploy("B", applystate.Completed), exReport("C", applystate.Failed)},
	},
	{
		name: "DuplicateDriveLoops", doc: "two drive loops of A (one taking over from the other) report running and failed while B runs",
		apply:  exOps(exOp("A", applystate.Continue, applystate.Pending), exOp("B", "", applystate.Running)),
		actors: []*exActorSpec{exReport("A", applystate.Running), exReport("A", applystate.Failed)},
	},
	{
		name: "PlanCreationDrive", doc: "a CreatePlan, not retried after a crash, while A's drive loop runs",
		apply: &exApplySpec{plan: true, ops: []exOpSpec{exOp("A", "", ""), exOp("B", "", ""), exOp("C", applystate.Continue, "")}},
		actors: []*exActorSpec{{name: "CreatePlan(A, B, C)", run: func(ctx context.Context, e *exEnv) error {
			plan := applystate.Plan{Apply: storage.Apply{ID: e.queue}}
			for _, o := range e.spec.ops {
				plan.Operations = append(plan.Operations, storage.Operation{ID: o.id, OnFailure: string(o.policy)})
			}
			_, _, err := e.p.CreatePlan(ctx, plan)
			return err
		}}, exDeploy("A", applystate.Completed)},
	},
}

// checkApplyStep checks the applystate invariants on the store after step n.
func (s *exSchedule) checkApplyStep(n int, desc string, prev, next exApplySnap) {
	if next.apply != nil && len(next.ops) < len(s.sc.apply.ops) {
		s.violation("plan: after step %d (%s) the apply exists with %d of its %d operations", n, desc, len(next.ops), len(s.sc.apply.ops))
	}
	terminal := next.apply != nil && applystate.Normalize(next.apply.state).Terminal()
	if terminal {
		for id, op := range next.ops {
			if st := applystate.Normalize(op.state); st != applystate.Pending && !st.Terminal() {
				s.violation("target: after step %d (%s) the apply is %s while operation %s holds its target (%s)", n, desc, next.apply.state, id, op)
			}
		}
	}
	if prev.apply != nil && next.apply != nil && applystate.Normalize(prev.apply.state).Terminal() && prev.apply.state != next.apply.state {
		s.violation("terminal: step %d (%s) moved the terminal apply from %s to %s", n, desc, prev.apply.state, next.apply.state)
	}
	for id, p := range prev.ops {
		o := next.ops[id]
		ps, ns := applystate.Normalize(p.state), applystate.Normalize(o.state)
		if ps.Settled() && (o.state != p.state || o.msg != p.msg || !o.started.Equal(p.started) || !o.completed.Equal(p.completed)) {
			s.violation("settled: step %d (%s) changed the settled operation %s from %s to %s", n, desc, id, p, o)
		}
		closed := prev.apply != nil && (applystate.Normalize(prev.apply.state).Terminal() || prev.apply.stop)
		if ps == applystate.Pending && !p.claimed && ns != applystate.Pending && ns != applystate.Stopped && closed {
			s.violation("start: step %d (%s) started operation %s (%s → %s) after its apply was %s (stop requested: %v)",
				n, desc, id, p, o, prev.apply.state, prev.apply.stop)
		}
		if ps == applystate.Stopped && ns == applystate.Pending {
			s.violation("stopped: step %d (%s) moved operation %s from stopped back to pending", n, desc, id)
		}
	}
}

// checkTerminalized reports a violation unless the callers saw the apply
// terminalized exactly once if it is terminal (or ambiguously) and never
// if it is not; apply is the apply at the end, nil if there is none.
func (s *exSchedule) checkTerminalized(terminal bool, terminalized int, ambiguous bool, apply *exApplyView) {
	switch {
	case terminalized > 1:
		s.violation("terminalized: the apply was terminalized %d times", terminalized)
	case terminal && terminalized == 0 && !ambiguous:
		s.violation("terminalized: the apply is %s, but no caller saw Terminalized or ErrAmbiguous", apply.state)
	case !terminal && terminalized > 0 && apply == nil:
		s.violation("terminalized: a caller saw Terminalized, but there is no apply")
	case !terminal && terminalized > 0:
		s.violation("terminalized: a caller saw Terminalized, but the apply is %s", apply.state)
	}
}

// checkClaims reports a claimed start that the open apply last keeps when
// every call of every actor succeeded (failed false): a claim is either
// started by the caller told to proceed or given back; only a terminal
// apply may keep one, inert. Once a call failed, its claim, or the grant
// of its claim, may have landed unknown to its caller, which was then
// answered no Proceed: its deployment, told DoNotStart after a stop (or
// polling on), reports stopped, and the explorer's actors do not poll on.
func (s *exSchedule) checkClaims(last exApplySnap, failed bool) {
	if failed || last.apply == nil || applystate.Normalize(last.apply.state).Terminal() {
		return
	}
	for _, id := range slices.Sorted(maps.Keys(last.ops)) {
		if op := last.ops[id]; op.claimed {
			s.violation("claim: every call of every actor succeeded, yet the %s apply keeps %s's claimed start, which nobody runs (%s)", last.apply.state, id, op)
		}
	}
}

func (s *exSchedule) finalApplyChecks(last exApplySnap) error {
	if last.apply == nil {
		for _, a := range s.actors {
			if len(a.env.applyObs.proceeded) > 0 {
				s.violation("proceed: actor %s was told to start %v, but the apply does not exist", a.letter, a.env.applyObs.proceeded)
			}
		}
		return nil
	}
	allOK, failed := true, false
	terminalized, ambiguous := 0, false
	for _, a := range s.actors {
		allOK = allOK && a.err == nil && !a.env.applyObs.undetermined
		failed = failed || a.env.applyObs.failed
		terminalized += a.env.applyObs.terminalized
		ambiguous = ambiguous || a.env.applyObs.ambiguous
	}
	if allOK {
		if err := CheckApplyProjected(s.ctx, s.raw, s.queue); err != nil {
			s.violation("projection: every actor succeeded, yet before any Reproject %v", err)
		}
		s.checkClaims(last, failed)
	}
	terminal := applystate.Normalize(last.apply.state).Terminal()
	s.checkTerminalized(terminal, terminalized, ambiguous, last.apply)
	for _, a := range s.actors {
		for _, id := range a.env.applyObs.proceeded {
			op := last.ops[id]
			if terminal && !applystate.Normalize(op.state).Terminal() && a.err == nil {
				s.violation("proceed: actor %s was told to start %s, but the apply is %s with %s at %s", a.letter, id, last.apply.state, id, op)
			}
		}
	}
	p, err := applystate.NewProjector(s.raw, s.raw, applystate.WithClock(func() time.Time { return s.clock.read(0) }),
		applystate.WithLogger(s.log.logger().With("actor", "reproject")))
	if err != nil {
		return err
	}
	if _, err := p.Reproject(s.ctx, s.queue); err != nil {
		s.violation("reproject: the final Reproject, with no fault, failed: %v", err)
		return nil
	}
	if err := CheckApplyProjected(s.ctx, s.raw, s.queue); err != nil {
		s.violation("projection: after the final Reproject %v", err)
	}
	if err := CheckApplyNotEarly(s.ctx, s.raw, s.queue); err != nil {
		s.violation("target: after the final Reproject %v", err)
	}
	return nil
}
