package explore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// ScheduleEnv names the environment variable that makes the Interleavings
// area of [storagetest.Run] replay one schedule instead of exploring: its value is
// "<scenario>:<schedule>", as printed with a violation, for example
//
//	STATEFOLD_SCHEDULE='CreateReconcile:a +t b b b b b a' go test -run 'TestContract/Interleavings' ./storage/memory
const ScheduleEnv = "STATEFOLD_SCHEDULE"

// Exploration bounds the interleaving explorer (see [Explore]).
//
// A schedule is the sequence of choices the explorer's scheduler made:
// before each step, whether the virtual clock jumps past the dangling
// grace; which actor's pending store call runs; and, for a write, whether
// it fails. Option zero of every choice is the default and costs nothing
// (no jump; the actor that ran last if it has a call pending, else the
// first actor that has; no fault); the others cost one preemption, fault
// or clock jump.
//
// The bounded search runs every schedule within the bounds exactly once,
// cheapest first. Each run replays a forced prefix of choices and then
// takes the defaults; every other option allowed at one of those later
// choice points becomes the prefix of another run. Prefixes run in order
// of cost — first the schedule with no preemption, fault or clock jump,
// then those with one, and so on up to Events — so the first violation
// found is one of the simplest. The random schedules that follow have no
// preemption bound and allow one fault more.
type Exploration struct {
	// Preemptions bounds the preemptions of one schedule: picking another
	// actor while the one that just ran still has a call pending.
	// Switching after an actor finished is free.
	Preemptions int
	// Faults bounds the injected faults of one schedule. A fault hits one
	// write: either it fails before it runs (the call returns an error
	// wrapping [faultstore.ErrInjected] and the store is not called), or it runs and
	// then reports an error wrapping ErrInjected (a lost response).
	Faults int
	// ClockAdvances bounds how often the virtual clock jumps past the
	// dangling grace in one schedule, in the scenarios where time decides
	// what an orchestrator does.
	ClockAdvances int
	// Events bounds preemptions, faults and clock jumps together; 0 means
	// Preemptions + Faults + ClockAdvances.
	Events int
	// Random is the number of seeded random schedules run per scenario
	// after the bounded search.
	Random int
	// Seed seeds the random schedules; every scenario derives its own
	// generator from it and its name.
	Seed uint64
	// Budget bounds the wall time of the exploration; 0 means none. [storagetest.Run]
	// explores the scenarios one after the other, each with an equal share
	// of what is left; [Explore] gives its one scenario all of it. When the
	// bounded search of a scenario has used three quarters of its share, it
	// is cut (see [ExploreResult].Complete) and the random schedules get
	// the rest. The schedules without any preemption, fault or clock jump
	// always run.
	Budget time.Duration
	// Scenarios selects scenarios by name (see [Scenarios]); empty selects
	// every one.
	Scenarios []string
	// MaxViolations stops a scenario after that many violating schedules;
	// 0 means 1.
	MaxViolations int
	// PCT makes every other random schedule one of random priorities
	// (probabilistic concurrency testing: the pending actor of highest
	// priority runs, and at one or two random steps the actor about to run
	// drops below the others) instead of uniform picks.
	PCT bool
	// Delays is how many schedules run after the random ones that hold one
	// actor back at one of its writes while the others make a few whole
	// calls, then let it go first (a stale compare-and-swap): the actor,
	// the write and how long it waits are drawn at random.
	Delays int
	// Holds is how many schedules run after the delay schedules that
	// hold two or three actors at writes, one after another: each runs
	// alone until one of its writes is next and waits there, then they are
	// let go in the order they were held, each until the call it was in
	// returns. Switches happen only at writes, so the combinations are
	// few enough to enumerate; they run in a seeded order, holds at writes
	// to what another actor writes too first. It includes one schedule per
	// actor that runs it first, to count its writes. They count as random
	// schedules.
	Holds int
	// MaxSchedules bounds how many schedules the bounded search of one
	// scenario runs, cheapest first; 0 means no bound. A search it cuts
	// is not complete ([ExploreResult].Complete).
	MaxSchedules int
	// Parallel is how many schedules of a scenario run at once, each on its
	// own queue; 0 means 1. Over a network most of a schedule's time is
	// spent waiting for the store, so a few at once go faster. With more
	// than one, a search cut short by the budget or a violation covers a
	// slightly different set of schedules from run to run.
	Parallel int
}

// DefaultExploration is what [storagetest.Run] explores unless told otherwise
// ([storagetest.WithExploration]): every schedule within two preemptions, one fault
// and one clock jump, at most two of them together, then 25 random
// schedules per scenario, four schedules at once, within 30 seconds in
// all (the model check, [CheckModel], explores far more). The in-memory store explores all of it in seconds; a store over a
// network is cut short by the budget (the log says where). Under -short:
// one of them, 5 random schedules, 15 seconds.
func DefaultExploration() Exploration {
	if testing.Testing() && testing.Short() {
		return Exploration{Preemptions: 1, Faults: 1, ClockAdvances: 1, Events: 1, Random: 5, Seed: 1, Budget: 15 * time.Second, Parallel: 4}
	}
	return Exploration{Preemptions: 2, Faults: 1, ClockAdvances: 1, Events: 2, Random: 25, Seed: 1, Budget: 30 * time.Second, Parallel: 4}
}

// BatchOrchestrator is the part of the batchstate API the explorer's
// actors call; *batchstate.Orchestrator implements it. Tests substitute
// their own, broken ones included, through an [OrchestratorFactory].
type BatchOrchestrator interface {
	Create(ctx context.Context, b storage.Batch) (storage.Batch, error)
	Transition(ctx context.Context, b storage.Batch, to string) (storage.Batch, error)
	List(ctx context.Context, queue string, states ...string) ([]storage.Batch, error)
	Reconcile(ctx context.Context, queue string) (batchstate.ReconcileReport, error)
}

// OrchestratorConfig is what one actor's orchestrator is built from.
type OrchestratorConfig struct {
	// Store is the actor's store: every call is a step of the schedule.
	// The converging Reconcile after a schedule gets the real store.
	Store storage.Store
	// Machine is the scenario's machine.
	Machine batchstate.Machine
	// Clock is the actor's virtual clock: it advances by a millisecond per
	// reading, jumps on a clock advance, and may be skewed for this actor.
	Clock func() time.Time
	// Grace is the dangling grace of every orchestrator of the schedule.
	Grace time.Duration
	// Logger collects the orchestrator's logs, at Debug; they are shown
	// with a violation.
	Logger *slog.Logger
	// Indexed adds [IndexOptions] to the options: the generated batchstate
	// scenarios look batches up.
	Indexed bool
}

// Options returns the batchstate options that apply c: its clock, grace
// and logger, one bucket read at a time (so that an actor has at most one
// store call pending), and List retries without a pause (a pause would
// cost wall time and decide nothing: the scheduler orders the calls).
func (c OrchestratorConfig) Options() []batchstate.Option {
	opts := []batchstate.Option{
		batchstate.WithClock(c.Clock),
		batchstate.WithDanglingGrace(c.Grace),
		batchstate.WithListConcurrency(1),
		batchstate.WithListRetry(batchstate.DefaultListAttempts, 0),
		batchstate.WithLogger(c.Logger),
	}
	if c.Indexed {
		opts = append(opts, IndexOptions(c.Machine)...)
	}
	return opts
}

// OrchestratorFactory builds one actor's orchestrator.
type OrchestratorFactory func(c OrchestratorConfig) (BatchOrchestrator, error)

// NewBatchOrchestrator is the factory of the real thing:
// batchstate.New(c.Store, c.Store, c.Machine, c.Options()...).
func NewBatchOrchestrator(c OrchestratorConfig) (BatchOrchestrator, error) {
	return batchstate.New(c.Store, c.Store, c.Machine, c.Options()...)
}

// Scenario describes one scenario of the explorer.
type Scenario struct {
	// Name selects the scenario (see [Exploration].Scenarios and
	// [ScheduleEnv]).
	Name string
	// Doc says what the actors do.
	Doc string
	// Actors names what each actor does, actor a first.
	Actors []string
}

// Scenarios returns the explorer's scenarios, in the order the
// Interleavings area runs them.
func Scenarios() []Scenario {
	out := make([]Scenario, 0, len(exScenarios))
	for _, sc := range exScenarios {
		names := make([]string, len(sc.actors))
		for i, a := range sc.actors {
			names[i] = a.name
		}
		out = append(out, Scenario{Name: sc.name, Doc: sc.doc, Actors: names})
	}
	return out
}

// ScheduleResult is one schedule run and checked.
type ScheduleResult struct {
	// Scenario is the scenario's name.
	Scenario string
	// Schedule is the schedule, replayable with [Replay] or [ScheduleEnv]:
	// one token per step, separated by spaces. A step is the letter of the
	// actor whose call ran (a, b, c, in the order of [Scenario].Actors),
	// followed by "!" if the call failed before it ran or "~" if it ran
	// and its response was lost; "+t" is a jump of the virtual clock past
	// the dangling grace before the next step. Steps past the end of a
	// shortened string follow the default order (the actor that ran last
	// if it has a call pending, else the first that has).
	Schedule string
	// Violation joins the invariants the schedule broke; nil if it held.
	Violation error
	// Trace lists the steps with their results, what each actor returned,
	// and the orchestrators' logs.
	Trace string
	// LateWrite reports, for a schedule whose calls went to another handle
	// ([ExploreWith]), that the store changed after the last step: a write
	// landed after its call had returned. The change was checked as a step
	// of its own and the final checks read the store as it then was.
	LateWrite bool
}

// Error describes the violation with the schedule and how to replay it.
func (r ScheduleResult) Error() string {
	return fmt.Sprintf("scenario %s, schedule %q: %v\nreplay it alone with %s='%s:%s'",
		r.Scenario, r.Schedule, r.Violation, ScheduleEnv, r.Scenario, r.Schedule)
}

// ExploreResult is what exploring one scenario found.
type ExploreResult struct {
	// Scenario is the scenario's name.
	Scenario string
	// Bounded and Random count the schedules run and checked by the
	// bounded search and at random.
	Bounded, Random int
	// PerLevel counts the bounded schedules by their number of
	// preemptions, faults and clock jumps together.
	PerLevel []int
	// Complete reports whether the bounded search covered every schedule
	// within the bounds (it did not if the budget or a violation cut it).
	Complete bool
	// Violations lists the violating schedules, simplest first.
	Violations []ScheduleResult
	// LateWrites counts the schedules with a [ScheduleResult].LateWrite.
	LateWrites int
	// Elapsed is the wall time spent.
	Elapsed time.Duration
}

// Schedules returns Bounded + Random.
func (r ExploreResult) Schedules() int { return r.Bounded + r.Random }

// Explore explores the named scenario (see [Scenarios]) on store with
// orchestrators built by f, within the bounds of x, and returns what it
// found. Every schedule starts from a new random queue, so store may be
// shared and persistent.
//
// Each actor runs in its own goroutine with its own orchestrator, over a
// wrapper of store in which every call blocks and announces itself to a
// scheduler. The scheduler waits until every actor is blocked at a store
// call or has returned, picks one pending call (see [Exploration] for the
// choices), runs it on store as one atomic step, and waits again; so the
// code between two store calls always runs alone. The only clock is
// virtual: one reading is a millisecond later than the one before, a
// clock jump adds the grace (10 minutes) plus a minute — longer than
// batchstate's default reconcile lease too — and an actor of a scenario
// may read it skewed. With the store's rows returned in a fixed
// order (the wrapper sorts what ListMembers, GetBatches and
// ListOperations return by id), a schedule replays exactly.
//
// After every step the explorer reads the real store (not through the
// scheduler) and checks, for the scenario's batches:
//
//   - I (never miss): a batch stored in a non-terminal state S has the
//     index row (queue, S, id).
//   - IV: a batch stored in a terminal state (or batchstate.Abandoned)
//     never changes again, is never deleted, and a change of its stored
//     state is a move its machine allows.
//
// After the actors returned it checks every List call:
//
//   - II (never misreport): it returned only batches of the scenario,
//     each once, in a requested state, whose stored state and version
//     were what it returned at some step of the call.
//   - III (never miss in a List): a batch stored in a requested state at
//     every step of the call, from its first store call to its last, is
//     in the result. A List that returned an error promises nothing.
//
// and every Create: one that returned success left its batch stored and
// not abandoned. Then (V, converge) it jumps the clock past the grace,
// runs one Reconcile (built by f over the real store, no faults), and
// requires the index to hold exactly the row of each non-terminal batch's
// state and no row of a terminal or missing one.
//
// The applystate scenarios are checked instead for the apply's rules
// after every step (never terminal while an operation holds its target; a
// settled operation never changes; a stopped one never returns to pending;
// nothing starts once the apply is terminal or a stop was requested) and,
// at the end, for Terminalized seen once per terminal apply (or
// applystate.ErrAmbiguous returned), the stored apply being the projection
// of its operations when every actor succeeded, no open apply keeping a
// claimed start nobody runs when no call of any actor failed (a failed
// call's grant may have landed unknown to it), and the projection after
// one Reproject.
//
// batchstate's List and Reconcile read buckets one at a time
// ([OrchestratorConfig].Options), so every actor has at most one call
// pending; an actor that makes two at once fails the exploration. What a
// store does inside one call (the DynamoDB backend's concurrent
// BatchGetItem chunks, say) is one step and does not change the schedule.
//
// The error is about the exploration itself (a scenario that cannot be
// set up, an actor that neither calls the store nor returns, a schedule
// that does not replay the same way); violations are in the result.
func Explore(ctx context.Context, store storage.Store, scenario string, x Exploration, f OrchestratorFactory) (ExploreResult, error) {
	sc, err := exScenarioNamed(scenario)
	if err != nil {
		return ExploreResult{Scenario: scenario}, err
	}
	var until time.Time
	if x.Budget > 0 {
		until = time.Now().Add(x.Budget)
	}
	return exExplore(ctx, func() storage.Store { return store }, sc, x, f, until)
}

// ExploreWith is [Explore] with the actors' store calls going to actors,
// another handle on the same data as store — for example a client whose
// network faults are injected below the backend — while the setup, the
// checks after every step and the final checks read store. Errors the
// actors get from actors are what their callers would get; the invariants
// must hold all the same.
//
// The checks take every call as one atomic step. A fault below actors that
// loses a reply should let the statement finish first, but a write can
// still land after its call returned; after the last step the store is
// read again, and such a change is checked as a step of its own before the
// final checks read the store as it then is (see
// [ScheduleResult].LateWrite).
func ExploreWith(ctx context.Context, store, actors storage.Store, scenario string, x Exploration, f OrchestratorFactory) (ExploreResult, error) {
	return Explore(ctx, exPair{Store: store, actors: actors}, scenario, x, f)
}

// ExploreAllWith runs [ExploreWith] over every scenario (or those
// x.Scenarios names), each with an equal share of what is left of x.Budget
// (once it is spent, each scenario left runs its first schedules only), reports each violation (with its
// trace) as an error of t, and returns how many schedules ran and how many
// violated an invariant. Network faults injected at random below actors
// make a schedule's store calls differ from run to run, so give it an
// Exploration of random schedules only (Random, no bounds).
func ExploreAllWith(t testing.TB, store, actors storage.Store, x Exploration) (schedules, violations int) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	selected, err := exSelect(x)
	if err != nil {
		t.Error(err)
		return 0, 0
	}
	for i, sc := range selected {
		until := exUntil(x.Budget, start, i, len(selected))
		res, err := exExplore(ctx, func() storage.Store { return exPair{Store: store, actors: actors} }, sc, x, NewBatchOrchestrator, until)
		if err != nil {
			t.Errorf("storagetest: exploring %s: %v", sc.name, err)
			continue
		}
		schedules += res.Schedules()
		violations += len(res.Violations)
		if res.LateWrites > 0 {
			t.Logf("storagetest: %s: in %d schedules a write landed after its call returned (checked as a step of its own)", sc.name, res.LateWrites)
		}
		for _, v := range res.Violations {
			t.Errorf("%s\n%s", v.Error(), v.Trace)
		}
	}
	return schedules, violations
}

// exPair is a store for the checks and another handle for the actors.
type exPair struct {
	storage.Store
	actors storage.Store
}

// Replay runs one schedule of the named scenario (see
// [ScheduleResult].Schedule for the notation) on store with orchestrators
// built by f, and checks it as [Explore] does. The schedule need not be
// within any bound. The error says why it could not run as written (an
// unknown scenario, a step naming an actor with no call pending, a fault
// on a read, steps left over).
func Replay(ctx context.Context, store storage.Store, scenario, schedule string, f OrchestratorFactory) (ScheduleResult, error) {
	sc, err := exScenarioNamed(scenario)
	if err != nil {
		return ScheduleResult{Scenario: scenario, Schedule: schedule}, err
	}
	ch, err := exParseSchedule(schedule)
	if err != nil {
		return ScheduleResult{Scenario: scenario, Schedule: schedule}, err
	}
	return exRunSchedule(ctx, store, sc, ch, f, true)
}

// RunInterleavings is the Interleavings area: every scenario as a subtest,
// one after the other within the budget, or only the schedule ScheduleEnv
// names.
func RunInterleavings(t *testing.T, newStore func(t *testing.T) storage.Store, x Exploration) {
	if spec := os.Getenv(ScheduleEnv); spec != "" {
		name, schedule, ok := strings.Cut(spec, ":")
		require.True(t, ok, "%s=%q: want <scenario>:<schedule>", ScheduleEnv, spec)
		res, err := Replay(context.Background(), newStore(t), name, schedule, NewBatchOrchestrator)
		require.NoError(t, err)
		t.Logf("replayed %s %q:\n%s", name, res.Schedule, res.Trace)
		if res.Violation != nil {
			t.Error(res.Error())
		}
		t.Errorf("%s is set: one schedule was replayed and the exploration was not run; unset it to run it", ScheduleEnv)
		return
	}
	selected, err := exSelect(x)
	require.NoError(t, err)
	var schedules, violations, complete atomic.Int64
	t.Cleanup(func() {
		t.Logf("interleavings explored: %d schedules, %d violations, %d of %d scenarios complete", schedules.Load(), violations.Load(), complete.Load(), len(selected))
	})
	start := time.Now()
	for i, sc := range selected {
		until := exUntil(x.Budget, start, i, len(selected))
		t.Run(sc.name, func(t *testing.T) {
			res, err := exExplore(context.Background(), exStores(func() storage.Store { return newStore(t) }), sc, x, NewBatchOrchestrator, until)
			schedules.Add(int64(res.Schedules()))
			violations.Add(int64(len(res.Violations)))
			require.NoError(t, err)
			state := "complete"
			if res.Complete {
				complete.Add(1)
			} else {
				state = "cut short by the budget"
			}
			t.Logf("%s: %d schedules: %d within the bounds (by cost %v, %s), %d random; %s",
				sc.name, res.Schedules(), res.Bounded, res.PerLevel, state, res.Random, res.Elapsed.Round(time.Millisecond))
			for _, v := range res.Violations {
				t.Errorf("%s\n%s", v.Error(), v.Trace)
			}
			require.Positive(t, res.Schedules(), "%s: no schedule explored", sc.name)
		})
	}
}

func exScenarioNamed(name string) (*exScenario, error) {
	for _, sc := range exScenarios {
		if sc.name == name {
			return sc, nil
		}
	}
	names := make([]string, len(exScenarios))
	for i, sc := range exScenarios {
		names[i] = sc.name
	}
	return nil, fmt.Errorf("storagetest: no scenario %q (scenarios: %s)", name, strings.Join(names, ", "))
}

// exSelect returns the scenarios x names, or every one when it names none;
// a name that is no scenario is an error, so a selection never explores
// nothing.
func exSelect(x Exploration) ([]*exScenario, error) {
	var selected []*exScenario
	for _, name := range x.Scenarios {
		sc, err := exScenarioNamed(name)
		if err != nil {
			return nil, err
		}
		selected = append(selected, sc)
	}
	if len(x.Scenarios) == 0 {
		selected = exScenarios
	}
	if len(selected) == 0 {
		return nil, errors.New("storagetest: no scenario selected: an exploration of nothing proves nothing")
	}
	return selected, nil
}

// exUntil returns when the i-th of n scenarios explored one after the other
// must stop: an equal share of what is left of budget since start. When
// the budget is spent that time is past and the scenario runs only its
// first schedules; a budget of 0 means no limit (the zero time).
func exUntil(budget time.Duration, start time.Time, i, n int) time.Time {
	if budget <= 0 {
		return time.Time{}
	}
	return time.Now().Add((budget - time.Since(start)) / time.Duration(n-i))
}
