package explore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// exMachine is the machine of every scenario: three live states, two
// terminal ones, and a cycle between queued and running.
var exMachine = batchstate.Machine{
	States:   []string{"queued", "running", "merging", "done", "failed"},
	Terminal: []string{"done", "failed"},
	Transitions: map[string][]string{
		"queued":  {"running", "failed"},
		"running": {"queued", "merging", "done", "failed"},
		"merging": {"running", "done", "failed"},
	},
}

// exScenario is a small concurrent program over one queue: its setup
// (unscheduled, on the real store) and its actors.
type exScenario struct {
	name, doc string
	// ids are the batch ids the scenario may use; the checks look at these.
	ids []string
	// clock lets the schedules jump the clock past the grace.
	clock  bool
	setup  func(s *exSetup) error
	actors []*exActorSpec
	// apply makes an applystate scenario: the setup writes this apply (its
	// id is the queue's name) and the checks are applystate's.
	apply *exApplySpec
	// gen makes a generated applystate scenario of the model check: its
	// setup and checks are the specification's (see model_spec.go).
	gen *genApply
	// machine is the scenario's machine; nil is exMachine.
	machine *batchstate.Machine
	// indexed gives the orchestrators the indexes of the lookups (see
	// IndexOptions).
	indexed bool
	// prunes: an actor calls Prune (see model_prune.go).
	prunes bool
}

// mach returns the scenario's machine.
func (sc *exScenario) mach() batchstate.Machine {
	if sc.machine != nil {
		return *sc.machine
	}
	return exMachine
}

// exActorSpec is one actor: what it does, with its clock skewed by skew.
type exActorSpec struct {
	name string
	skew time.Duration
	// still: the actor's clock stands still between the schedule's clock
	// jumps.
	still bool
	// crash ends the actor before its crash-th store call, as a process
	// that dies between two writes (0: never).
	crash int
	run   func(ctx context.Context, e *exEnv) error
	// reconciler: the actor runs Reconcile, whose removals of live
	// batches' rows need the queue's lease (checked in generated
	// scenarios).
	reconciler bool
}

// exSetup writes a scenario's starting state directly to the store.
type exSetup struct {
	ctx     context.Context
	store   storage.Store
	queue   string
	clock   *exClock
	batches map[string]storage.Batch
}

// seed stores batch id created in the first state and moved by
// compare-and-swap through the others, and adds the given index rows, so
// that the setup does not depend on how batchstate orders its writes.
func (s *exSetup) seed(id string, states []string, rows ...exSeedRow) error {
	now := s.clock.read(0).Truncate(time.Microsecond)
	b, err := s.store.CreateBatch(s.ctx, storage.Batch{Queue: s.queue, ID: id, State: states[0], Payload: []byte(id), CreatedAt: now, UpdatedAt: now})
	if err != nil {
		return err
	}
	for _, st := range states[1:] {
		next := b
		next.State, next.UpdatedAt = st, s.clock.read(0).Truncate(time.Microsecond)
		if b, err = s.store.UpdateBatch(s.ctx, next, b.Version, b.State); err != nil {
			return err
		}
	}
	s.batches[id] = b
	for _, r := range rows {
		if err := s.row(r.state, id, r.version); err != nil {
			return err
		}
	}
	return nil
}

// exSeedRow is an index row of a seeded batch: its state and version.
type exSeedRow struct {
	state   string
	version int64
}

func exRowAt(state string, version int64) exSeedRow { return exSeedRow{state, version} }

// row adds the index row (state, id) at version, as a write that has not
// finished would have left it.
func (s *exSetup) row(state, id string, version int64) error {
	return s.store.AddMember(s.ctx, storage.Member{Queue: s.queue, State: state, BatchID: id, Version: version,
		AddedAt: s.clock.read(0).Truncate(time.Microsecond)})
}

// exEnv is what an actor works with: its orchestrator and scheduled store,
// the queue, the batches as the setup left them, and a record of its List
// and Create calls for the checks.
type exEnv struct {
	o    BatchOrchestrator
	p    *applystate.Projector // applystate scenarios
	spec *exApplySpec
	// applyObs is what the actor saw of the apply.
	applyObs exApplyObs
	store    *exStore
	queue    string
	setup    map[string]storage.Batch
	lists    []exListObs
	lookups  []exLookupObs
	prunes   []exPruneObs
	creates  []exCreateObs
	// letter names the actor; gen records its applystate calls in a
	// generated scenario.
	letter  string
	gen     []genCall
	machine batchstate.Machine
}

type exListObs struct {
	states []string
	got    []storage.Batch
	err    error
	steps  []int // the steps of its store calls
}

type exCreateObs struct {
	id  string
	err error
}

func (e *exEnv) create(ctx context.Context, id, state string) (storage.Batch, error) {
	b, err := e.o.Create(ctx, storage.Batch{Queue: e.queue, ID: id, State: state, Payload: []byte(id)})
	e.creates = append(e.creates, exCreateObs{id, err})
	return b, err
}

func (e *exEnv) list(ctx context.Context, states ...string) ([]storage.Batch, error) {
	n := len(e.store.calls())
	got, err := e.o.List(ctx, e.queue, states...)
	e.lists = append(e.lists, exListObs{states: states, got: got, err: err, steps: e.store.calls()[n:]})
	return got, err
}

// transition moves b to state to; the actors keep only the error.
func (e *exEnv) transition(ctx context.Context, b storage.Batch, to string) error {
	_, err := e.o.Transition(ctx, b, to)
	return err
}

func (e *exEnv) reconcile(ctx context.Context) error {
	_, err := e.o.Reconcile(ctx, e.queue)
	return err
}

// createRetrying creates id in state and, after an error, does what the
// batchstate documentation asks of a caller: retries, and if the id turns
// out to be abandoned, creates under a new id (id+"r").
func (e *exEnv) createRetrying(ctx context.Context, id, state string) error {
	_, err := e.create(ctx, id, state)
	if err == nil {
		return nil
	}
	if _, err = e.create(ctx, id, state); err == nil || !errors.Is(err, storage.ErrAlreadyExists) {
		return err
	}
	b, gerr := e.store.GetBatch(ctx, e.queue, id)
	if gerr != nil {
		return errors.Join(err, gerr)
	}
	if b.State != exAbandoned() {
		return nil // the first create landed
	}
	_, err = e.create(ctx, id+"r", state)
	return err
}

// cycle reads batch id and moves it one step along queued ⇄ running.
func (e *exEnv) cycle(ctx context.Context, id string) error {
	b, err := e.store.GetBatch(ctx, e.queue, id)
	if err != nil {
		return err
	}
	switch b.State {
	case "running":
		return e.transition(ctx, b, "queued")
	case "queued":
		return e.transition(ctx, b, "running")
	}
	return nil
}

// The actors the scenarios share.
var (
	exReconciler = &exActorSpec{name: "Reconcile", run: func(ctx context.Context, e *exEnv) error { return e.reconcile(ctx) }}
	exListQR     = &exActorSpec{name: "List(queued, running)", run: func(ctx context.Context, e *exEnv) error {
		_, err := e.list(ctx, "queued", "running")
		return err
	}}
)

func exMove(id, to string) *exActorSpec {
	return &exActorSpec{name: fmt.Sprintf("Transition(%s → %s)", id, to), run: func(ctx context.Context, e *exEnv) error {
		return e.transition(ctx, e.setup[id], to)
	}}
}

// exMoveEdited moves the setup's batch id to to from a copy that edit
// changed, as a caller holding an edited copy does.
func exMoveEdited(name, id, to string, edit func(b *storage.Batch)) *exActorSpec {
	return &exActorSpec{name: name, run: func(ctx context.Context, e *exEnv) error {
		b := e.setup[id]
		edit(&b)
		return e.transition(ctx, b, to)
	}}
}

func exCreator(id string, skew time.Duration) *exActorSpec {
	name := fmt.Sprintf("Create(%s queued), retried", id)
	if skew != 0 {
		name += fmt.Sprintf(", clock %s", skew)
	}
	return &exActorSpec{name: name, skew: skew, run: func(ctx context.Context, e *exEnv) error {
		return e.createRetrying(ctx, id, "queued")
	}}
}

func exNoSetup(*exSetup) error { return nil }

// exScenarios are the scenarios of the explorer, each two or three actors
// over one or two batches.
var exScenarios = append(exBatchScenarios, exApplyScenarios...)

// exBatchScenarios are the batchstate scenarios.
var exBatchScenarios = []*exScenario{
	{
		name:   "CreateReconcile",
		doc:    "a Create (retried after an error, under a new id if the first was abandoned) races a Reconcile that may find its row past the grace",
		ids:    []string{"b1", "b1r"},
		clock:  true,
		setup:  exNoSetup,
		actors: []*exActorSpec{exCreator("b1", 0), exReconciler},
	},
	{
		name:   "SkewedCreateReconcile",
		doc:    "a Create whose clock is behind by more than the grace races a Reconcile: its row looks past the grace the moment it is written",
		ids:    []string{"b1", "b1r"},
		setup:  exNoSetup,
		actors: []*exActorSpec{exCreator("b1", -(exGrace + time.Minute)), exReconciler},
	},
	{
		name:  "TransitionList",
		doc:   "queued → running while a List reads running, then queued",
		ids:   []string{"b1"},
		setup: func(s *exSetup) error { return s.seed("b1", []string{"queued"}, exRowAt("queued", 1)) },
		actors: []*exActorSpec{exMove("b1", "running"), {name: "List(running, queued)", run: func(ctx context.Context, e *exEnv) error {
			_, err := e.list(ctx, "running", "queued")
			return err
		}}},
	},
	{
		name:  "CyclicTransitionList",
		doc:   "running → queued → running while a List reads queued, then running",
		ids:   []string{"b1"},
		setup: func(s *exSetup) error { return s.seed("b1", []string{"queued", "running"}, exRowAt("running", 2)) },
		actors: []*exActorSpec{{name: "Transition(b1 → queued → running)", run: func(ctx context.Context, e *exEnv) error {
			b, err := e.o.Transition(ctx, e.setup["b1"], "queued")
			if err != nil {
				return err
			}
			return e.transition(ctx, b, "running")
		}}, exListQR},
	},
	{
		name:  "RacingTransitions",
		doc:   "running → queued from the setup's read races a reader that moves b1 one step along queued ⇄ running, under a List",
		ids:   []string{"b1"},
		setup: func(s *exSetup) error { return s.seed("b1", []string{"queued", "running"}, exRowAt("running", 2)) },
		actors: []*exActorSpec{exMove("b1", "queued"), {name: "GetBatch(b1), then one step of queued ⇄ running", run: func(ctx context.Context, e *exEnv) error {
			return e.cycle(ctx, "b1")
		}}, exListQR},
	},
	{
		name:  "TransitionEditedState",
		doc:   "a Transition of a batch stored done, from a copy whose State was edited to running (its Version is the stored one), under a List",
		ids:   []string{"b1"},
		setup: func(s *exSetup) error { return s.seed("b1", []string{"queued", "running", "done"}) },
		actors: []*exActorSpec{exMoveEdited("Transition(b1 edited to running → queued)", "b1", "queued",
			func(b *storage.Batch) { b.State = "running" }), exListQR},
	},
	{
		name:  "TransitionTooHighVersion",
		doc:   "a Transition from a Version above the stored one (its row lands ahead of the batch, its compare-and-swap fails) races a Reconcile",
		ids:   []string{"b1"},
		clock: true,
		setup: func(s *exSetup) error { return s.seed("b1", []string{"queued"}, exRowAt("queued", 1)) },
		actors: []*exActorSpec{exMoveEdited("Transition(b1 at version 5 → running)", "b1", "running",
			func(b *storage.Batch) { b.Version = 5 }), exReconciler},
	},
	{
		name:  "TransitionReconcile",
		doc:   "a crashed transition left the row running@2 behind; its retry (re-read and retried after an error) races a Reconcile that may fence it",
		ids:   []string{"b1"},
		clock: true,
		setup: func(s *exSetup) error {
			return s.seed("b1", []string{"queued"}, exRowAt("queued", 1), exRowAt("running", 2))
		},
		actors: []*exActorSpec{{name: "Transition(b1 → running), re-read and retried", run: func(ctx context.Context, e *exEnv) error {
			err := e.transition(ctx, e.setup["b1"], "running")
			if err == nil {
				return nil
			}
			b, gerr := e.store.GetBatch(ctx, e.queue, "b1")
			if gerr != nil || b.State != "queued" {
				return err
			}
			return e.transition(ctx, b, "running")
		}}, exReconciler},
	},
	{
		name:  "ListReconcileTransition",
		doc:   "b1 (running, with a stale queued row) moves back to queued while a Reconcile removes stale rows and a List reads queued, then running; b2 stays queued",
		ids:   []string{"b1", "b2"},
		clock: true,
		setup: func(s *exSetup) error {
			if err := s.seed("b1", []string{"queued", "running"}, exRowAt("queued", 1), exRowAt("running", 2)); err != nil {
				return err
			}
			return s.seed("b2", []string{"queued"}, exRowAt("queued", 1))
		},
		actors: []*exActorSpec{exMove("b1", "queued"), exReconciler, exListQR},
	},
}
