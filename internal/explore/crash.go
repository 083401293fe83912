package explore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/faultstore"
)

// crashGrace is the dangling grace of the orchestrators the suite builds;
// the fake clock jumps past it before the converging Reconcile.
const crashGrace = 10 * time.Minute

// CrashMachine is the batch machine of the orchestration areas.
var CrashMachine = batchstate.Machine{
	States:   []string{"queued", "running", "merging", "done", "failed"},
	Terminal: []string{"done", "failed"},
}

// testLogger sends the orchestrators' best-effort logs to the test log,
// where they show with -v or next to a failure, instead of stderr.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// orchEnv is one isolated scenario: a queue, an apply, a fault store over
// the backend and orchestrators over both the fault store (faulty) and the
// backend (clean, for setup, repair and checks).
type orchEnv struct {
	store storage.Store
	fs    *faultstore.Store
	clock *Clock
	queue string
	apply string

	faulty, clean *batchstate.Orchestrator
	fproj, cproj  *applystate.Projector

	ids          []string
	terminalized atomic.Int32
}

func newOrchEnv(t testing.TB, store storage.Store) *orchEnv {
	t.Helper()
	return newOrchEnvWith(t, store, store)
}

// newOrchEnvWith is newOrchEnv with the faulty orchestrators calling
// actors, another handle on store's data.
func newOrchEnvWith(t testing.TB, store, actors storage.Store) *orchEnv {
	t.Helper()
	e := &orchEnv{store: store, fs: faultstore.New(actors), clock: newTestClock(),
		queue: UniqueID("q"), apply: UniqueID("apply")}
	var err error
	logger := testLogger(t)
	e.faulty, err = batchstate.New(e.fs, e.fs, CrashMachine, batchstate.WithClock(e.clock.Now), batchstate.WithDanglingGrace(crashGrace), batchstate.WithLogger(logger))
	require.NoError(t, err)
	e.clean, err = batchstate.New(store, store, CrashMachine, batchstate.WithClock(e.clock.Now), batchstate.WithDanglingGrace(crashGrace), batchstate.WithLogger(logger))
	require.NoError(t, err)
	observe := applystate.WithObserver(func(_ context.Context, r applystate.Result) {
		if r.Terminalized {
			e.terminalized.Add(1)
		}
	})
	e.fproj, err = applystate.NewProjector(e.fs, e.fs, applystate.WithClock(e.clock.Now), applystate.WithLogger(logger), observe)
	require.NoError(t, err)
	e.cproj, err = applystate.NewProjector(store, store, applystate.WithClock(e.clock.Now), applystate.WithLogger(logger), observe)
	require.NoError(t, err)
	return e
}

func (e *orchEnv) create(ctx context.Context, t testing.TB, id, state string) storage.Batch {
	t.Helper()
	b, err := e.clean.Create(ctx, storage.Batch{Queue: e.queue, ID: id, State: state, Payload: []byte(id)})
	require.NoError(t, err)
	e.ids = append(e.ids, id)
	return b
}

func (e *orchEnv) get(ctx context.Context, t testing.TB, id string) storage.Batch {
	t.Helper()
	b, err := e.store.GetBatch(ctx, e.queue, id)
	require.NoError(t, err)
	return b
}

// seedApply creates the apply and three operations d1..d3 (halt, continue,
// halt) and drives them, fault-free, to the given states.
func (e *orchEnv) seedApply(ctx context.Context, t testing.TB, states ...applystate.State) {
	t.Helper()
	now := e.clock.Now()
	_, err := e.store.CreateApply(ctx, storage.Apply{ID: e.apply, State: string(applystate.Pending), CreatedAt: now, UpdatedAt: now})
	require.NoError(t, err)
	policies := []applystate.Policy{applystate.Halt, applystate.Continue, applystate.Halt}
	for i := range states {
		id := fmt.Sprintf("d%d", i+1)
		_, err := e.store.CreateOperation(ctx, storage.Operation{
			ApplyID: e.apply, ID: id, Seq: int64(i + 1), Deployment: "deploy-" + id,
			State: string(applystate.Pending), OnFailure: string(policies[i%len(policies)]),
			CreatedAt: now, UpdatedAt: now,
		})
		require.NoError(t, err)
	}
	for i, s := range states {
		id := fmt.Sprintf("d%d", i+1)
		if s == applystate.Pending {
			continue
		}
		if s != applystate.Running {
			_, err = e.cproj.Drive(ctx, e.apply, []applystate.Task{{OperationID: id, State: applystate.Running}})
			require.NoError(t, err)
		}
		_, err = e.cproj.Drive(ctx, e.apply, []applystate.Task{{OperationID: id, State: s}})
		require.NoError(t, err)
	}
	a, err := e.store.GetApply(ctx, e.apply)
	require.NoError(t, err)
	require.False(t, applystate.Normalize(a.State).Terminal(), "the seeded apply is still open")
}

// crashCase is one orchestration call explored at every crash point.
type crashCase struct {
	name string
	// setup prepares the scenario, fault-free.
	setup func(ctx context.Context, t testing.TB, e *orchEnv)
	// run performs the call under test on the faulty orchestrators.
	run func(ctx context.Context, e *orchEnv) error
	// retry is what a caller does after an error, fault-free (may be nil).
	retry func(ctx context.Context, e *orchEnv) error
	// apply marks cases that check the apply rather than the batches.
	apply bool
}

func crashCases() []crashCase {
	return []crashCase{
		{
			name: "Create",
			setup: func(ctx context.Context, t testing.TB, e *orchEnv) {
				e.create(ctx, t, "old", "queued")
				e.ids = append(e.ids, "new")
			},
			run: func(ctx context.Context, e *orchEnv) error {
				_, err := e.faulty.Create(ctx, storage.Batch{Queue: e.queue, ID: "new", State: "queued"})
				return err
			},
		},
		{
			name: "Transition",
			setup: func(ctx context.Context, t testing.TB, e *orchEnv) {
				e.create(ctx, t, "b", "queued")
				e.create(ctx, t, "other", "running")
			},
			run: transitionB("running"),
		},
		{
			name: "TransitionTerminal",
			setup: func(ctx context.Context, t testing.TB, e *orchEnv) {
				e.create(ctx, t, "b", "merging")
			},
			run: transitionB("done"),
		},
		{
			name: "List",
			setup: func(ctx context.Context, t testing.TB, e *orchEnv) {
				e.create(ctx, t, "live", "queued")
				e.create(ctx, t, "run", "running")
				fin := e.create(ctx, t, "fin", "queued")
				_, err := e.clean.Transition(ctx, fin, "done")
				require.NoError(t, err)
				// A row left behind by a crashed removal: List heals it.
				require.NoError(t, e.store.AddMember(ctx, storage.Member{Queue: e.queue, State: "queued", BatchID: "fin", Version: 1, AddedAt: e.clock.Now()}))
			},
			run: func(ctx context.Context, e *orchEnv) error {
				_, err := e.faulty.List(ctx, e.queue, "queued", "running")
				return err
			},
		},
		{
			name: "Reconcile",
			setup: func(ctx context.Context, t testing.TB, e *orchEnv) {
				e.create(ctx, t, "live", "queued")
				moved := e.create(ctx, t, "moved", "queued")
				_, err := e.clean.Transition(ctx, moved, "running")
				require.NoError(t, err)
				fin := e.create(ctx, t, "fin", "running")
				_, err = e.clean.Transition(ctx, fin, "failed")
				require.NoError(t, err)
				now := e.clock.Now()
				for _, m := range []storage.Member{
					{Queue: e.queue, State: "queued", BatchID: "moved", Version: 1, AddedAt: now},  // stale
					{Queue: e.queue, State: "running", BatchID: "fin", Version: 1, AddedAt: now},   // terminal
					{Queue: e.queue, State: "merging", BatchID: "ghost", Version: 1, AddedAt: now}, // dangling
				} {
					require.NoError(t, e.store.AddMember(ctx, m))
				}
				e.ids = append(e.ids, "ghost")
				e.clock.Advance(2 * crashGrace)
			},
			run: func(ctx context.Context, e *orchEnv) error {
				_, err := e.faulty.Reconcile(ctx, e.queue)
				return err
			},
		},
		applyCase("Drive", driveD3, applystate.Completed, applystate.Completed, applystate.Running),
		applyCase("DriveSiblingActive", driveD3, applystate.Running, applystate.Completed, applystate.Running),
		// A drive loop asking to start d3: a claim that a crash may leave
		// behind holds the apply as running until d3 polls again.
		applyCase("DriveClaim", func(ctx context.Context, p *applystate.Projector, applyID string) error {
			_, err := p.Drive(ctx, applyID, []applystate.Task{{OperationID: "d3", State: applystate.Pending}})
			return err
		}, applystate.Running, applystate.Completed, applystate.Pending),
		applyCase("Stop", func(ctx context.Context, p *applystate.Projector, id string) error {
			_, err := p.Stop(ctx, id)
			return err
		}, applystate.Completed, applystate.Running, applystate.Pending),
		withSetup(applyCase("Reproject", func(ctx context.Context, p *applystate.Projector, id string) error {
			_, err := p.Reproject(ctx, id)
			return err
		}, applystate.Completed, applystate.Completed, applystate.Running), func(ctx context.Context, t testing.TB, e *orchEnv) {
			// A crash between the operation write and the apply write.
			op, err := e.store.GetOperation(ctx, e.apply, "d3")
			require.NoError(t, err)
			op.State = string(applystate.Completed)
			op.CompletedAt = e.clock.Now().Truncate(time.Microsecond)
			_, err = e.store.UpdateOperation(ctx, op, op.Version)
			require.NoError(t, err)
		}),
	}
}

// driveD3 reports operation d3 completed.
func driveD3(ctx context.Context, p *applystate.Projector, applyID string) error {
	_, err := p.Drive(ctx, applyID, []applystate.Task{{OperationID: "d3", State: applystate.Completed}})
	return err
}

// applyCase is a crash case over an apply seeded with three operations in
// the given states: call runs on the faulty projector, and again on the
// clean one as the caller's retry after an error.
func applyCase(name string, call func(ctx context.Context, p *applystate.Projector, applyID string) error, seed ...applystate.State) crashCase {
	return crashCase{
		name:  name,
		apply: true,
		setup: func(ctx context.Context, t testing.TB, e *orchEnv) { e.seedApply(ctx, t, seed...) },
		run:   func(ctx context.Context, e *orchEnv) error { return call(ctx, e.fproj, e.apply) },
		retry: func(ctx context.Context, e *orchEnv) error { return call(ctx, e.cproj, e.apply) },
	}
}

// withSetup runs more setup after the case's own.
func withSetup(c crashCase, more func(ctx context.Context, t testing.TB, e *orchEnv)) crashCase {
	first := c.setup
	c.setup = func(ctx context.Context, t testing.TB, e *orchEnv) {
		first(ctx, t, e)
		more(ctx, t, e)
	}
	return c
}

// maxCrashPoints bounds the exploration of one call, in case an
// orchestrator never stops calling the store.
const maxCrashPoints = 200

// runCrashPoints fails the k-th store call of every crash case, for every
// k until the call completes without reaching k, in both fault modes, and
// checks the invariants after each fault and after the repair.
func runCrashPoints(t *testing.T, newStore func(t *testing.T) storage.Store) {
	var explored atomic.Int64
	t.Cleanup(func() {
		t.Logf("crash points explored: %d", explored.Load())
		if explored.Load() == 0 {
			t.Error("no crash point was reached: the search explored nothing")
		}
	})
	crashSubtests(t, func(t *testing.T) (storage.Store, storage.Store) { s := newStore(t); return s, s }, false, &explored)
}

// CrashPointsWith runs the crash-point exploration of the Orchestration
// area with the calls under test going to actors — another handle on the
// same data as store, for example a client whose network faults are
// injected below the backend — while the setup, the repair and the checks
// use store. A call that actors fails on its own (an error matching
// storage.ErrUnavailable) ends the call there, as a crash would; the
// invariants must hold all the same. It returns how many crash points
// were reached and in how many of the crash cases (a call in one fault
// mode) an invariant failed; every violation fails t.
func CrashPointsWith(t *testing.T, store, actors storage.Store) (explored, failed int) {
	t.Helper()
	var n, bad atomic.Int64
	t.Run("CrashPoints", func(t *testing.T) {
		crashSubtests(t, func(t *testing.T) (storage.Store, storage.Store) {
			t.Cleanup(func() {
				if t.Failed() {
					bad.Add(1)
				}
			})
			return store, actors
		}, true, &n)
	})
	return int(n.Load()), int(bad.Load())
}

// crashSubtests runs every crash case in both fault modes as parallel
// subtests of t, counting the crash points reached. noisy marks actors
// that fail calls on their own.
func crashSubtests(t *testing.T, stores func(t *testing.T) (store, actors storage.Store), noisy bool, explored *atomic.Int64) {
	for _, c := range crashCases() {
		for _, mode := range []faultstore.Mode{faultstore.FailBefore, faultstore.FailAfter} {
			t.Run(c.name+"/"+mode.String(), func(t *testing.T) {
				t.Parallel()
				store, actors := stores(t)
				ctx := context.Background()
				for k := 1; ; k++ {
					require.LessOrEqual(t, k, maxCrashPoints, "the call never completed")
					if !crashPoint(ctx, t, store, actors, noisy, c, mode, k) {
						break
					}
					explored.Add(1)
				}
			})
		}
	}
}

// leaseReleased reports whether a failed UpdateBatch was Reconcile's
// release of the queue's lease, which it retries: the lease is idle.
func leaseReleased(ctx context.Context, store storage.Store, queue string, m faultstore.Method) bool {
	if m != faultstore.UpdateBatch {
		return false
	}
	lease, err := store.GetBatch(ctx, queue, batchstate.LeaseID)
	return err == nil && lease.State == "idle"
}

// unacknowledged reports whether a failed UpdateOperation may have been an
// acknowledgement, which is best-effort (applystate leaves the row for the
// next poll to project again): a row of the apply is not acknowledged.
func unacknowledged(ctx context.Context, store storage.Store, applyID string, m faultstore.Method) bool {
	if m != faultstore.UpdateOperation {
		return false
	}
	ops, err := store.ListOperations(ctx, applyID)
	return err == nil && slices.ContainsFunc(ops, func(op storage.Operation) bool { return !applystate.Acknowledged(op) })
}

// crashPoint runs one case with the k-th call failing and reports whether
// the fault was reached.
func crashPoint(ctx context.Context, t *testing.T, store, actors storage.Store, noisy bool, c crashCase, mode faultstore.Mode, k int) bool {
	t.Helper()
	e := newOrchEnvWith(t, store, actors)
	c.setup(ctx, t, e)
	e.terminalized.Store(0)
	in, err := e.fs.Inject(faultstore.Fault{Mode: mode, Call: k})
	require.NoError(t, err)
	runErr := c.run(ctx, e)
	e.fs.ClearFaults()
	hitMethod, hit := in.Hit()
	// A call that noisy actors failed on their own: a crash point too.
	unavailable := noisy && errors.Is(runErr, storage.ErrUnavailable)
	switch {
	case unavailable:
	case !hit:
		require.NoError(t, runErr, "fault-free run")
	case mode == faultstore.FailBefore && !errors.Is(runErr, faultstore.ErrInjected) && hitMethod.IsWrite() && hitMethod != faultstore.RemoveMember && !leaseReleased(ctx, store, e.queue, hitMethod) &&
		!(c.apply && unacknowledged(ctx, store, e.apply, hitMethod)):
		// A failed write that is not best-effort must surface.
		require.ErrorIs(t, runErr, faultstore.ErrInjected, "k=%d: a failed %s must be returned", k, hitMethod)
	}
	where := fmt.Sprintf("%s k=%d (%v)", mode, k, hitMethod)
	if c.apply {
		require.NoError(t, CheckApplyNotEarly(ctx, store, e.apply), "after the fault, %s", where)
		before, err := store.GetApply(ctx, e.apply)
		require.NoError(t, err)
		if runErr != nil && c.retry != nil {
			require.NoError(t, c.retry(ctx, e), "retry after %s", where)
		}
		_, err = e.cproj.Reproject(ctx, e.apply)
		require.NoError(t, err, "reproject after %s", where)
		require.NoError(t, CheckApplyNotEarly(ctx, store, e.apply), "after the repair, %s", where)
		if !applystate.Normalize(before.State).Terminal() {
			require.NoError(t, CheckApplyProjected(ctx, store, e.apply), "after the repair, %s", where)
		}
		after, err := store.GetApply(ctx, e.apply)
		require.NoError(t, err)
		n := e.terminalized.Load()
		require.LessOrEqual(t, n, int32(1), "Terminalized reported %d times, %s", n, where)
		ambiguous := (mode == faultstore.FailAfter && hitMethod == faultstore.UpdateApply) || errors.Is(runErr, applystate.ErrAmbiguous)
		if applystate.Normalize(after.State).Terminal() && !ambiguous {
			require.Equal(t, int32(1), n, "apply ended %q but Terminalized was reported %d times, %s", after.State, n, where)
		}
		return hit
	}
	list := func(ctx context.Context, queue string, states ...string) ([]storage.Batch, error) {
		got, err := e.clean.List(ctx, queue, states...)
		if errors.Is(err, storage.ErrConflict) && hitMethod == faultstore.UpdateBatch {
			// The Reconcile failed to release its lease: List refuses to
			// answer until the lease expires, then answers.
			e.clock.Advance(batchstate.DefaultReconcileLease + time.Second)
			got, err = e.clean.List(ctx, queue, states...)
		}
		return got, err
	}
	require.NoError(t, CheckListed(ctx, store, list, CrashMachine, e.queue, e.ids), "after the fault, %s", where)
	e.clock.Advance(2 * crashGrace)
	_, err = e.clean.Reconcile(ctx, e.queue)
	require.NoError(t, err, "reconcile after %s", where)
	require.NoError(t, CheckIndexExact(ctx, store, CrashMachine, e.queue, e.ids), "after reconcile, %s", where)
	require.NoError(t, CheckListed(ctx, store, list, CrashMachine, e.queue, e.ids), "after reconcile, %s", where)
	return hit
}

// transitionB is the run of a scenario that moves batch "b", as read from
// the store, to the state to through the faulty orchestrator.
func transitionB(to string) func(context.Context, *orchEnv) error {
	return func(ctx context.Context, e *orchEnv) error {
		b, err := e.store.GetBatch(ctx, e.queue, "b")
		if err != nil {
			return err
		}
		_, err = e.faulty.Transition(ctx, b, to)
		return err
	}
}
