package explore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

// ModelEnv names the environment variable that makes the ModelCheck area
// of [storagetest.Run] replay one generated scenario and schedule instead of checking:
// "<scenario>#<schedule>", as printed with a violation. A replay never
// passes the area: it fails with what the replay showed, so that the
// variable cannot turn a contract run green on its own.
const ModelEnv = "STATEFOLD_MODEL"

// ScaleEnv names the environment variable that scales the model check's
// budget — its number of scenarios and its wall time — by a factor (default
// 1): `make explore` runs the same check longer with it.
const ScaleEnv = "STATEFOLD_EXPLORE_SCALE"

// ModelCheck bounds the model check of [CheckModel]: how many generated
// scenarios, and how each is explored.
type ModelCheck struct {
	// Scenarios is how many scenarios are generated and explored.
	Scenarios int
	// Seed seeds the generator; scenario i is drawn from (Seed, i), so a
	// scenario is reproduced by its seed and number alone.
	Seed uint64
	// Exploration bounds the schedules of each scenario (its Budget and
	// Scenarios are ignored).
	Exploration Exploration
	// Budget bounds the wall time of the whole check; 0 means none. A
	// check the budget cut short says so ([ModelResult].Complete).
	Budget time.Duration
	// Parallel is how many scenarios are explored at once; 0 means 1.
	Parallel int
	// Shrink bounds the wall time spent minimizing each violation (0: 30
	// seconds).
	Shrink time.Duration
	// RaceSchedules raises Exploration.MaxSchedules for the scenarios drawn
	// in the shape of a known race (a drive loop settling while two
	// replicas of another report; a List while a batch moves and a
	// Reconcile removes); 0 leaves it.
	RaceSchedules int
	// RaceDelays sets Exploration.Delays for the scenarios drawn in the
	// shape of a known race; 0 leaves it.
	RaceDelays int
	// RaceHolds sets Exploration.Holds for the scenarios drawn in the
	// shape of a known race; 0 leaves it.
	RaceHolds int
	// MaxViolations stops the check once that many scenarios broke a
	// promise; 0 means no limit.
	MaxViolations int
}

// DefaultModelCheck is what [storagetest.Run] checks unless told otherwise
// ([storagetest.WithModelCheck]): 2,000 scenarios on seed 1, each explored within one
// preemption or one fault and then with 6 random schedules (one drawn in
// the shape of a known race: 150 bounded schedules, 24 delay schedules and
// 200 holds schedules, see [Exploration].Delays and [Exploration].Holds),
// two scenarios at once, within 8 minutes (a budget against a blocked run: on a busy machine it still completes); all of it scaled by [ScaleEnv]. A store over a
// network needs smaller numbers (the server backends' tests pass their
// own). Under -short: 200 scenarios.
func DefaultModelCheck() ModelCheck {
	m := ModelCheck{Scenarios: 2000, Seed: 1, Budget: 8 * time.Minute, Parallel: 2, RaceSchedules: 150, RaceDelays: 24, RaceHolds: 200,
		Exploration: Exploration{Preemptions: 1, Faults: 0, ClockAdvances: 1, Events: 1, MaxSchedules: 24, Random: 6, PCT: true, Seed: 1, Parallel: 1}}
	if testing.Testing() && testing.Short() {
		m.Scenarios = 200
	}
	return m.Scaled(EnvScale())
}

// RemoteModelCheck is [DefaultModelCheck] sized for a store over a
// network: 120 scenarios, each run in its default schedule and 3 random
// ones (sampled, not bounded; 12 schedules for one drawn in the shape of
// a known race), four scenarios at once, within 4 minutes;
// scaled by [ScaleEnv] too. The server backends' tests run it.
func RemoteModelCheck() ModelCheck {
	m := DefaultModelCheck().Scaled(1 / EnvScale())
	m.Scenarios, m.Budget, m.Parallel, m.RaceSchedules, m.RaceDelays, m.RaceHolds = 120, 4*time.Minute, 4, 12, 0, 0
	m.Exploration.MaxSchedules, m.Exploration.Random = 1, 3
	if testing.Testing() && testing.Short() {
		m.Scenarios = 20
	}
	return m.Scaled(EnvScale())
}

// EnvScale returns the factor [ScaleEnv] sets, 1 when it is unset; a value
// that is not a positive number is 1 too.
func EnvScale() float64 {
	f, err := strconv.ParseFloat(os.Getenv(ScaleEnv), 64)
	if err != nil || f <= 0 {
		return 1
	}
	return f
}

// Scaled returns m with its scenarios and budget multiplied by f.
func (m ModelCheck) Scaled(f float64) ModelCheck {
	m.Scenarios = max(1, int(float64(m.Scenarios)*f+0.5))
	m.Budget = time.Duration(float64(m.Budget) * f)
	return m
}

// ModelViolation is one broken promise, minimized: the smallest scenario
// and schedule the shrinker found that still break a promise, and a
// replay of it.
type ModelViolation struct {
	// Seed and Index name the generated scenario it came from.
	Seed  uint64
	Index int
	// After is how long into the check it was found.
	After time.Duration
	// Scenario is the minimized scenario, as [ModelEnv] takes it.
	Scenario string
	// Result is the minimized schedule, checked.
	Result ScheduleResult
}

// Error describes the violation and how to replay it.
func (v ModelViolation) Error() string {
	return fmt.Sprintf("generated scenario %d of seed %d, minimized to %q, schedule %q: %v\nreplay it alone with %s='%s#%s'",
		v.Index, v.Seed, v.Scenario, v.Result.Schedule, v.Result.Violation, ModelEnv, v.Scenario, v.Result.Schedule)
}

// ModelResult is what a model check found.
type ModelResult struct {
	// Scenarios and Schedules count what was explored and checked.
	Scenarios, Schedules int
	// Complete reports whether every scenario asked for was explored.
	Complete bool
	// Violations lists the broken promises, minimized.
	Violations []ModelViolation
	// Elapsed is the wall time spent.
	Elapsed time.Duration
}

// CheckModel generates m.Scenarios applystate scenarios (plans of 2–5
// operations with sequence groups, finalizers and the three failure
// policies; drive loops — a second replica, late, repeated and backward
// reports, crashes between writes — and operators: Stop, ReleasePause,
// Reproject, CreatePlan retried with the same or another plan), explores
// each as [Explore] does over the stores newStore returns, and checks every
// schedule against the specification written from the package
// documentation, not against the code's own projection:
//
//   - no Proceed once a stop was requested or the apply is terminal, and
//     none for a start claimed while a failure under halt, or an unreleased
//     one under pause, was stored;
//   - at most one Terminalized per apply, exactly one unless a caller got
//     applystate.ErrAmbiguous;
//   - the apply is never terminal while an operation told Proceed, or
//     reporting started work, is unsettled and not stopped, and its
//     terminal state is the one the stored rows give;
//   - rows only move forward, a start told Proceed never returns to
//     pending, and no row changes once the apply is terminal;
//   - a release covers only the failures stored when it began;
//   - a CreatePlan that returned success leaves exactly its plan;
//   - whenever every row is acknowledged, the apply is what the
//     specification gives for the rows (a poll of an acknowledged row
//     repairs nothing);
//   - once the actors stopped and one Reproject ran, the apply is what the
//     specification gives for the rows;
//   - with the open-applies index (ListOpen and Sweep actors), a ListOpen
//     never misses the apply while it is open throughout the call and its
//     CreatePlan returned before, and never returns a terminal apply or an
//     id that is no apply; a ListOpen with no fault removes a stale row;
//   - with PruneFinished actors too, an apply is in the open or the
//     finished index or pruned after every step, and a PruneFinished that
//     returned without More pruned every due apply it read and left no
//     finished row of one (model_finished.go);
//   - for batchstate, I–V, a Create that returned success is listed, and
//     a Reconcile removes rows of live batches only while it holds the
//     queue's lease.
//
// Each violation is minimized — the scenario, then the schedule — before
// it is reported. The error is about the check itself (a scenario that
// cannot run); a check with nothing to explore is an error too.
func CheckModel(ctx context.Context, newStore func() storage.Store, m ModelCheck) (ModelResult, error) {
	return checkModel(ctx, exStores(newStore), m)
}

// CheckModelWith is [CheckModel] with the actors' store calls going to
// actors, another handle on the same data as store — for example a client
// whose network faults are injected below the backend — while the setup
// and the checks read store (see [ExploreWith]). Faults make a schedule's
// store calls differ from run to run, so no schedule is searched for by
// replaying a prefix: each scenario runs its first schedule and then m's
// random ones only (MaxSchedules 1 and no RaceSchedules, whatever m says).
func CheckModelWith(ctx context.Context, store, actors storage.Store, m ModelCheck) (ModelResult, error) {
	m.Exploration.MaxSchedules, m.RaceSchedules, m.RaceDelays, m.RaceHolds = 1, 0, 0, 0
	return checkModel(ctx, func() storage.Store { return exPair{Store: store, actors: actors} }, m)
}

func checkModel(ctx context.Context, stores func() storage.Store, m ModelCheck) (ModelResult, error) {
	start := time.Now()
	res := ModelResult{}
	if m.Scenarios <= 0 {
		return res, errors.New("storagetest: a model check of no scenario checks nothing")
	}
	x := m.Exploration
	x.Budget, x.Scenarios = 0, nil
	var (
		mu   sync.Mutex
		next int
		errs []error
	)
	work := func() {
		for {
			mu.Lock()
			if next >= m.Scenarios || len(errs) > 0 || (m.Budget > 0 && time.Since(start) > m.Budget) ||
				(m.MaxViolations > 0 && len(res.Violations) >= m.MaxViolations) {
				mu.Unlock()
				return
			}
			i := next
			next++
			mu.Unlock()
			g := genScenario(m.Seed, i)
			xi := x
			if g.raceShaped() && m.RaceSchedules > xi.MaxSchedules {
				xi.MaxSchedules = m.RaceSchedules
			}
			if g.raceShaped() && m.RaceDelays > 0 {
				xi.Delays = m.RaceDelays
			}
			if g.raceShaped() && m.RaceHolds > 0 {
				xi.Holds = m.RaceHolds
			}
			r, err := exExplore(ctx, stores, g.scenario(fmt.Sprintf("gen%d", i)), xi, NewBatchOrchestrator, time.Time{})
			var v *ModelViolation
			if err == nil && len(r.Violations) > 0 {
				sg, sr := shrinkGen(ctx, stores, g, xi, r.Violations[0], cmp.Or(m.Shrink, 30*time.Second))
				v = &ModelViolation{Seed: m.Seed, Index: i, After: time.Since(start), Scenario: sg.String(), Result: sr}
			}
			mu.Lock()
			res.Scenarios++
			res.Schedules += r.Schedules()
			if err != nil {
				errs = append(errs, fmt.Errorf("generated scenario %d of seed %d (%s): %w", i, m.Seed, g, err))
			}
			if v != nil {
				res.Violations = append(res.Violations, *v)
			}
			mu.Unlock()
		}
	}
	exWorkers(max(m.Parallel, 1), work)
	res.Complete = res.Scenarios == m.Scenarios
	res.Elapsed = time.Since(start)
	return res, errors.Join(errs...)
}

// shrinkGen minimizes a violating scenario, then its schedule: it tries
// smaller scenarios (an actor or an operation fewer, a simpler actor or
// operation) and keeps any that still breaks a promise in some schedule
// within x, until none does or the time is up; then it drops faults and
// steps of the schedule while the replay still breaks a promise.
func shrinkGen(ctx context.Context, stores func() storage.Store, g genModel, x Exploration, v ScheduleResult, budget time.Duration) (genModel, ScheduleResult) {
	until := time.Now().Add(budget)
	x.Random, x.MaxViolations, x.Parallel = min(x.Random, 2), 1, 1
	for progress := true; progress && time.Now().Before(until); {
		progress = false
		for _, c := range g.simpler() {
			if time.Now().After(until) {
				break
			}
			r, err := exExplore(ctx, stores, c.scenario("shrink"), x, NewBatchOrchestrator, until)
			if err == nil && len(r.Violations) > 0 {
				g, v, progress = c, r.Violations[0], true
				break
			}
		}
	}
	sc := g.scenario("shrink")
	toks := strings.Fields(v.Schedule)
	try := func(cand []string) bool {
		ch, err := exParseSchedule(strings.Join(cand, " "))
		if err != nil {
			return false
		}
		r, err := exRunSchedule(ctx, stores(), sc, ch, NewBatchOrchestrator, true)
		if err != nil || r.Violation == nil {
			return false
		}
		toks, v = strings.Fields(r.Schedule), r
		return true
	}
	for progress := true; progress && time.Now().Before(until); {
		progress = false
		for i := range toks {
			if i >= len(toks) {
				break
			}
			cand := make([]string, 0, len(toks))
			switch t := toks[i]; {
			case t == "+t":
				cand = append(append(cand, toks[:i]...), toks[i+1:]...)
			case len(t) > 1:
				cand = append(append(append(cand, toks[:i]...), t[:1]), toks[i+1:]...)
			default:
				continue
			}
			if try(cand) {
				progress = true
			}
		}
		// A shorter string: the steps past it take the default order.
		for k := 0; k < len(toks); k++ {
			if try(toks[:k]) {
				progress = true
				break
			}
		}
	}
	v.Scenario = g.String()
	return g, v
}

// genModel is a generated scenario: it runs, prints, and lists the
// scenarios one simplification away.
type genModel interface {
	scenario(name string) *exScenario
	String() string
	simpler() []genModel
	// raceShaped reports a scenario drawn in the shape of a known race.
	raceShaped() bool
}

func (g *genApply) raceShaped() bool { return g.race }
func (g *genBatch) raceShaped() bool { return g.race }

// genScenario draws scenario i of seed: two applystate scenarios, then a
// batchstate one, and again.
func genScenario(seed uint64, i int) genModel {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	if i%3 == 2 {
		return genBatchScenario(rng)
	}
	return genDiscoverRace(genReprojectRace(genStill(genPrune(genDiscover(genApplyScenario(rng), rng), rng), rng), rng), rng)
}

// parseGen reads a scenario as genModel.String prints it.
func parseGen(s string) (genModel, error) {
	if strings.HasPrefix(s, "batch ") {
		return parseGenBatch(s)
	}
	return parseGenApply(s)
}

func (g *genApply) simpler() []genModel {
	var out []genModel
	for _, c := range g.smaller() {
		out = append(out, c)
	}
	return out
}

func (g *genBatch) simpler() []genModel {
	var out []genModel
	for _, c := range g.smaller() {
		out = append(out, c)
	}
	return out
}

// smaller lists the scenarios one simplification away from g.
func (g *genApply) smaller() []*genApply {
	var out []*genApply
	clone := func() *genApply {
		c := &genApply{ops: append([]genOp(nil), g.ops...), plan: g.plan, discover: g.discover, actors: append([]genActor(nil), g.actors...)}
		return c
	}
	for i := range g.actors {
		if len(g.actors) > 1 {
			c := clone()
			c.actors = append(c.actors[:i:i], c.actors[i+1:]...)
			out = append(out, c)
		}
	}
	for j, o := range g.ops {
		if len(g.ops) <= 1 {
			break
		}
		c := clone()
		c.ops = append(c.ops[:j:j], c.ops[j+1:]...)
		c.actors = c.actors[:0:0]
		for _, a := range g.actors {
			if a.kind != "loop" || a.op != o.id {
				c.actors = append(c.actors, a)
			}
		}
		if len(c.actors) > 0 {
			out = append(out, c)
		}
	}
	if g.plan {
		c := clone()
		c.plan = false
		c.actors = c.actors[:0:0]
		for _, a := range g.actors {
			if a.kind != "plan" {
				c.actors = append(c.actors, a)
			}
		}
		if len(c.actors) > 0 {
			out = append(out, c)
		}
	}
	for i, a := range g.actors {
		for _, f := range []func(*genActor) bool{
			func(a *genActor) bool { r := a.late; a.late = false; return r },
			func(a *genActor) bool { r := a.ready; a.ready = false; return r },
			func(a *genActor) bool { r := a.back; a.back = false; return r },
			func(a *genActor) bool { r := a.waits > 0; a.waits = 0; return r },
			func(a *genActor) bool { r := a.crash > 0; a.crash = 0; return r },
			func(a *genActor) bool { r := a.other; a.other = false; return r },
			func(a *genActor) bool { r := a.still; a.still = false; return r },
			func(a *genActor) bool {
				r := a.kind == "loop" && a.final != spCompleted
				a.final = spCompleted
				return r
			},
		} {
			b := a
			if f(&b) {
				c := clone()
				c.actors[i] = b
				out = append(out, c)
			}
		}
	}
	for j, o := range g.ops {
		for _, f := range []func(*genOp) bool{
			func(o *genOp) bool { r := o.policy != ""; o.policy = ""; return r },
			func(o *genOp) bool { r := o.group != "" || o.finalizer; o.group, o.finalizer = "", false; return r },
			func(o *genOp) bool { r := o.init != spPending; o.init = spPending; return r },
		} {
			b := o
			if f(&b) {
				c := clone()
				c.ops[j] = b
				out = append(out, c)
			}
		}
	}
	return out
}

// ReplayModel runs one schedule of a generated scenario (as
// [ModelViolation].Scenario and its schedule print them) on store and
// checks it against the specification.
func ReplayModel(ctx context.Context, store storage.Store, scenario, schedule string) (ScheduleResult, error) {
	g, err := parseGen(scenario)
	if err != nil {
		return ScheduleResult{}, err
	}
	ch, err := exParseSchedule(schedule)
	if err != nil {
		return ScheduleResult{}, err
	}
	return exRunSchedule(ctx, store, g.scenario("replay"), ch, NewBatchOrchestrator, true)
}

// RunModelCheck is the ModelCheck area, checking as far as m says.
func RunModelCheck(t *testing.T, newStore func(t *testing.T) storage.Store, m ModelCheck) {
	if spec := os.Getenv(ModelEnv); spec != "" {
		sc, schedule, ok := strings.Cut(spec, "#")
		require.True(t, ok, "%s=%q: want <scenario>#<schedule>", ModelEnv, spec)
		res, err := ReplayModel(context.Background(), newStore(t), sc, schedule)
		require.NoError(t, err)
		t.Logf("replayed %q, schedule %q:\n%s", sc, res.Schedule, res.Trace)
		if res.Violation != nil {
			t.Errorf("the replay breaks a promise: %v", res.Violation)
		}
		t.Errorf("%s is set: one schedule was replayed and the model check was not run; unset it to run the check", ModelEnv)
		return
	}
	res, err := CheckModel(context.Background(), func() storage.Store { return newStore(t) }, m)
	state := "complete"
	if !res.Complete {
		state = fmt.Sprintf("cut short by its budget of %s: %d of %d scenarios", m.Budget, res.Scenarios, m.Scenarios)
	}
	t.Logf("model check: %d scenarios, %d schedules, %d violations (seed %d, %s, %s)",
		res.Scenarios, res.Schedules, len(res.Violations), m.Seed, state, res.Elapsed.Round(time.Millisecond))
	require.NoError(t, err)
	for _, v := range res.Violations {
		t.Errorf("%s\n%s", v.Error(), v.Result.Trace)
	}
	require.Positive(t, res.Schedules, "the model check explored no schedule")
}
