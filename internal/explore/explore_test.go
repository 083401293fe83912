package explore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// mutant is batchstate with one known bug put back: the real orchestrator
// for every method but the broken one, which is written here against the
// same store, clock and grace.
type mutant struct {
	explore.BatchOrchestrator
	c explore.OrchestratorConfig
}

func (m *mutant) now() time.Time { return m.c.Clock().UTC().Truncate(time.Microsecond) }

// mutantFactory builds orchestrators whose methods are overridden by wrap.
func mutantFactory(wrap func(m *mutant) explore.BatchOrchestrator) explore.OrchestratorFactory {
	return func(c explore.OrchestratorConfig) (explore.BatchOrchestrator, error) {
		real, err := explore.NewBatchOrchestrator(c)
		if err != nil {
			return nil, err
		}
		return wrap(&mutant{BatchOrchestrator: real, c: c}), nil
	}
}

// danglingByTime removes a row whose batch does not exist once the row is
// older than the grace — by time alone, with no tombstone to stop the
// Create that may still land — then runs the real Reconcile.
type danglingByTime struct{ *mutant }

func (m danglingByTime) Reconcile(ctx context.Context, queue string) (batchstate.ReconcileReport, error) {
	s := m.c.Store
	var rows []storage.Member
	for _, st := range m.c.Machine.NonTerminal() {
		rs, err := s.ListMembers(ctx, queue, st)
		if err != nil {
			return batchstate.ReconcileReport{}, err
		}
		rows = append(rows, rs...)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.BatchID
	}
	found := map[string]bool{}
	if len(ids) > 0 {
		bs, err := s.GetBatches(ctx, queue, ids)
		if err != nil {
			return batchstate.ReconcileReport{}, err
		}
		for _, b := range bs {
			found[b.ID] = true
		}
	}
	now := m.now()
	for _, r := range rows {
		if !found[r.BatchID] && now.Sub(r.AddedAt) > m.c.Grace {
			if err := s.RemoveMember(ctx, queue, r.State, r.BatchID, math.MaxInt64); err != nil {
				return batchstate.ReconcileReport{}, err
			}
		}
	}
	return m.BatchOrchestrator.Reconcile(ctx, queue)
}

// transition is the shape of batchstate's Transition the next mutants
// share: the target row first, then the compare-and-swap with the state
// casState returns, then afterCAS.
func (m *mutant) transition(ctx context.Context, b storage.Batch, to string,
	casState func() (string, error), afterCAS func() error) (storage.Batch, error) {
	s := m.c.Store
	next := b
	next.State, next.UpdatedAt = to, m.now()
	if !m.c.Machine.IsTerminal(to) {
		if err := s.AddMember(ctx, storage.Member{Queue: b.Queue, State: to, BatchID: b.ID, Version: b.Version + 1, AddedAt: next.UpdatedAt}); err != nil {
			return b, err
		}
	}
	expect, err := casState()
	if err != nil {
		return b, err
	}
	updated, err := s.UpdateBatch(ctx, next, b.Version, expect)
	if err != nil {
		return b, err
	}
	if err := afterCAS(); err != nil {
		return updated, err
	}
	return updated, nil
}

func nothing() error { return nil }

// versionOnlyCAS compares only the version: it reads the batch first and
// expects whatever state is stored, so a caller's edited b.State moves a
// batch out of a state the caller never saw — a terminal one included.
type versionOnlyCAS struct{ *mutant }

func (m versionOnlyCAS) Transition(ctx context.Context, b storage.Batch, to string) (storage.Batch, error) {
	return m.transition(ctx, b, to, func() (string, error) {
		cur, err := m.c.Store.GetBatch(ctx, b.Queue, b.ID)
		return cur.State, err
	}, nothing)
}

// removesOldRow removes the row of the state left right after its
// compare-and-swap (bounded by the version it read, as it should be): a
// List that read the new bucket before the move and reads the old one
// after this removal misses the batch.
type removesOldRow struct{ *mutant }

func (m removesOldRow) Transition(ctx context.Context, b storage.Batch, to string) (storage.Batch, error) {
	return m.transition(ctx, b, to, func() (string, error) { return b.State, nil }, func() error {
		return m.c.Store.RemoveMember(ctx, b.Queue, b.State, b.ID, b.Version)
	})
}

// removesOldRowUnconditionally removes the row of the state left with no
// version bound: in a cycle, a late removal deletes the row of a newer
// move back into that state.
type removesOldRowUnconditionally struct{ *mutant }

func (m removesOldRowUnconditionally) Transition(ctx context.Context, b storage.Batch, to string) (storage.Batch, error) {
	return m.transition(ctx, b, to, func() (string, error) { return b.State, nil }, func() error {
		return m.c.Store.RemoveMember(ctx, b.Queue, b.State, b.ID, math.MaxInt64)
	})
}

// keepsRowsAhead is a Reconcile that removes rows of final batches, stale
// rows and (behind a tombstone) dangling ones, but keeps a row ahead of
// its batch forever: it never fences the transition that added it.
type keepsRowsAhead struct{ *mutant }

func (m keepsRowsAhead) Reconcile(ctx context.Context, queue string) (batchstate.ReconcileReport, error) {
	var rep batchstate.ReconcileReport
	s := m.c.Store
	for _, st := range m.c.Machine.NonTerminal() {
		rows, err := s.ListMembers(ctx, queue, st)
		if err != nil {
			return rep, err
		}
		for _, r := range rows {
			rep.Scanned++
			b, err := s.GetBatch(ctx, queue, r.BatchID)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				if m.now().Sub(r.AddedAt) <= m.c.Grace {
					continue
				}
				now := m.now()
				if _, err := s.CreateBatch(ctx, storage.Batch{Queue: queue, ID: r.BatchID, State: batchstate.Abandoned, CreatedAt: now, UpdatedAt: now}); err != nil {
					continue
				}
				err = s.RemoveMember(ctx, queue, st, r.BatchID, math.MaxInt64)
			case err != nil:
			case b.State == batchstate.Abandoned || m.c.Machine.IsTerminal(b.State):
				err = s.RemoveMember(ctx, queue, st, r.BatchID, math.MaxInt64)
			case b.State != st && b.Version >= r.Version:
				err = s.RemoveMember(ctx, queue, st, r.BatchID, b.Version)
			}
			if err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// claimLost is a store that drops the StartedAt of a pending operation it
// updates on a later write of the row: a claimed start is lost.
type claimLost struct{ storage.Store }

func (c claimLost) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	ops, err := c.Store.ListOperations(ctx, applyID)
	for i := range ops {
		if ops[i].State == "pending" {
			ops[i].StartedAt = time.Time{}
		}
	}
	return ops, err
}

// The explorer must find each known bug in the scenario built for it, name
// the invariant it breaks, and print a schedule that, replayed alone,
// breaks it again.
func TestExplorerFindsKnownBugs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, scenario, invariant string
		factory                   explore.OrchestratorFactory
		store                     func() storage.Store // nil: memory
	}{
		{"DanglingRowRemovedByTime", "CreateReconcile", "I:",
			mutantFactory(func(m *mutant) explore.BatchOrchestrator { return danglingByTime{m} }), nil},
		{"DanglingRowRemovedByTimeSkewedClock", "SkewedCreateReconcile", "I:",
			mutantFactory(func(m *mutant) explore.BatchOrchestrator { return danglingByTime{m} }), nil},
		{"VersionOnlyCAS", "TransitionEditedState", "IV:",
			mutantFactory(func(m *mutant) explore.BatchOrchestrator { return versionOnlyCAS{m} }), nil},
		{"OldRowRemovedAfterCAS", "TransitionList", "III:",
			mutantFactory(func(m *mutant) explore.BatchOrchestrator { return removesOldRow{m} }), nil},
		{"OldRowRemovedAfterCASCyclic", "CyclicTransitionList", "III:",
			mutantFactory(func(m *mutant) explore.BatchOrchestrator { return removesOldRow{m} }), nil},
		{"OldRowRemovedUnconditionally", "RacingTransitions", "I:",
			mutantFactory(func(m *mutant) explore.BatchOrchestrator { return removesOldRowUnconditionally{m} }), nil},
		{"RowAheadKeptForever", "TransitionTooHighVersion", "V:",
			mutantFactory(func(m *mutant) explore.BatchOrchestrator { return keepsRowsAhead{m} }), nil},
		// applystate: a store that loses a claimed start (the StartedAt of
		// a pending operation) lets a terminal decision miss the start.
		{"ClaimedStartLost", "DriveHaltDrive", "proceed:", explore.NewBatchOrchestrator,
			func() storage.Store { return claimLost{memory.New()} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var store storage.Store = memory.New()
			if c.store != nil {
				store = c.store()
			}
			x := explore.Exploration{Preemptions: 2, Faults: 1, ClockAdvances: 1, Events: 2}
			res, err := explore.Explore(ctx, store, c.scenario, x, c.factory)
			require.NoError(t, err)
			require.NotEmpty(t, res.Violations, "the explorer missed the bug in %d schedules", res.Schedules())
			v := res.Violations[0]
			require.ErrorContains(t, v.Violation, c.invariant, "%s\n%s", v.Error(), v.Trace)
			t.Logf("found after %d schedules: %s", res.Schedules(), v.Error())

			again, err := explore.Replay(ctx, store, c.scenario, v.Schedule, c.factory)
			require.NoError(t, err)
			require.Equal(t, v.Schedule, again.Schedule)
			require.Error(t, again.Violation, "the schedule replayed alone breaks the invariant again")
			require.Equal(t, v.Violation.Error(), again.Violation.Error())

			ok, err := explore.Replay(ctx, memory.New(), c.scenario, v.Schedule, explore.NewBatchOrchestrator)
			if err == nil { // the real orchestrator may take other steps
				require.NoError(t, ok.Violation, "the real orchestrator holds on the same schedule:\n%s", ok.Trace)
			}
		})
	}
}

// Exploring the same scenario twice runs the same schedules.
func TestExplorerIsDeterministic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	x := explore.Exploration{Preemptions: 2, Faults: 1, ClockAdvances: 1, Events: 2}
	first, err := explore.Explore(ctx, memory.New(), "TransitionReconcile", x, explore.NewBatchOrchestrator)
	require.NoError(t, err)
	second, err := explore.Explore(ctx, memory.New(), "TransitionReconcile", x, explore.NewBatchOrchestrator)
	require.NoError(t, err)
	require.True(t, first.Complete)
	require.Equal(t, first.PerLevel, second.PerLevel)
	require.Greater(t, first.Bounded, 100)
	require.Empty(t, first.Violations)
}

// Replay follows a schedule exactly and rejects one it cannot follow.
func TestReplaySchedules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memory.New()
	real := explore.NewBatchOrchestrator

	// Actor a's move runs to the end (AddMember, UpdateBatch), then the
	// List; the default order fills in the rest.
	res, err := explore.Replay(ctx, store, "TransitionList", "a a", real)
	require.NoError(t, err)
	require.NoError(t, res.Violation)
	require.True(t, strings.HasPrefix(res.Schedule, "a a b"), res.Schedule)
	require.Contains(t, res.Trace, "UpdateBatch(b1 queued v1 → running)")

	// A lost response: the compare-and-swap lands, the caller hears an error.
	res, err = explore.Replay(ctx, store, "TransitionList", "a a~ b b b b", real)
	require.NoError(t, err)
	require.NoError(t, res.Violation)
	require.Contains(t, res.Trace, "response lost")
	require.Contains(t, res.Trace, "injected fault")

	for schedule, want := range map[string]string{
		"c":                       "actor c has no call pending",
		"a! b!":                   "a fault on a read",
		"a x?":                    "bad step",
		"a a b b b b b b b b b b": "left over",
	} {
		_, err := explore.Replay(ctx, store, "TransitionList", schedule, real)
		require.ErrorContains(t, err, want, "schedule %q", schedule)
	}
	_, err = explore.Replay(ctx, store, "NoSuchScenario", "a", real)
	require.ErrorContains(t, err, "TransitionList")
}

// Every scenario is listed with its actors.
func TestScenarios(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, sc := range explore.Scenarios() {
		require.NotEmpty(t, sc.Doc, sc.Name)
		require.GreaterOrEqual(t, len(sc.Actors), 2, sc.Name)
		require.LessOrEqual(t, len(sc.Actors), 3, sc.Name)
		require.False(t, names[sc.Name], "scenario %s listed twice", sc.Name)
		names[sc.Name] = true
	}
	require.Len(t, names, 17)
}

// With STATEFOLD_SCHEDULE set, the Interleavings area replays that one
// schedule, logs its trace, and explores nothing.
//
// Re-executed with the variable set, the test is its own child: it runs
// Run on a memory store, which replays the schedule.
func TestScheduleEnvReplaysOneSchedule(t *testing.T) {
	if os.Getenv(explore.ScheduleEnv) != "" {
		storagetest.Run(t, func(*testing.T) storage.Store { return memory.New() })
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestScheduleEnvReplaysOneSchedule$/^Interleavings$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), explore.ScheduleEnv+"=TransitionList:b b a a b b")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "a replay never passes the area it replaces:\n%s", out)
	require.Contains(t, string(out), explore.ScheduleEnv+" is set")
	require.NotContains(t, string(out), "TransitionList, schedule", "the schedule holds")
	require.Contains(t, string(out), `replayed TransitionList "b b a a b b"`)
	require.Contains(t, string(out), "AddMember(running b1 v2)")
	require.NotContains(t, string(out), "interleavings explored")
}

// ExploreAllWith shares its budget among the scenarios: once it is spent,
// each scenario left runs one schedule, not an unbounded search.
func TestExploreAllWithKeepsToItsBudget(t *testing.T) {
	t.Parallel()
	store := memory.New()
	x := explore.Exploration{Random: 1000, Seed: 1, Parallel: 1, Budget: time.Nanosecond}
	schedules, violations := explore.ExploreAllWith(t, store, store, x)
	require.Zero(t, violations)
	n := len(explore.Scenarios())
	require.GreaterOrEqual(t, schedules, n, "every scenario ran")
	require.Less(t, schedules, 10*n, "no scenario searched past the budget (Random: 1000)")
}

// ExploreAllWith explores only the scenarios x names, as Run does.
func TestExploreAllWithHonoursScenarios(t *testing.T) {
	t.Parallel()
	store := memory.New()
	x := explore.Exploration{Random: 3, Seed: 1, Scenarios: []string{"TransitionList"}}
	schedules, violations := explore.ExploreAllWith(t, store, store, x)
	require.Zero(t, violations)
	one, err := explore.Explore(context.Background(), memory.New(), "TransitionList", x, explore.NewBatchOrchestrator)
	require.NoError(t, err)
	require.Equal(t, one.Schedules(), schedules, "TransitionList alone")
}

// lateApplyWrites is a handle on a store whose apply writes land late: an
// UpdateApply fails as ambiguous without writing, and lands just before the
// handle's next call — a statement that the server ran after its client
// saw the connection die.
type lateApplyWrites struct {
	storage.Store
	pending func()
}

func (l *lateApplyWrites) land() {
	if l.pending != nil {
		l.pending()
		l.pending = nil
	}
}

func (l *lateApplyWrites) UpdateApply(ctx context.Context, a storage.Apply, expected int64) (storage.Apply, error) {
	l.land()
	l.pending = func() { _, _ = l.Store.UpdateApply(ctx, a, expected) }
	return storage.Apply{}, fmt.Errorf("late: %w: %w", storage.ErrAmbiguous, storage.ErrUnavailable)
}

func (l *lateApplyWrites) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	l.land()
	return l.Store.GetApply(ctx, id)
}

func (l *lateApplyWrites) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	l.land()
	return l.Store.ListOperations(ctx, applyID)
}

// A write that lands after its call returned, through another handle, is
// checked as a step of its own and the final checks read the store as it
// is: in DriveCompletingReproject, A's terminal write lands after A's
// UpdateApply failed, A's read-back finds it landed (Terminalized), and the
// schedule holds — not "a caller saw Terminalized, but the apply is
// running", which a check of the store as the last step left it reported.
func TestExploreWithChecksWritesThatLandLate(t *testing.T) {
	t.Parallel()
	store := memory.New()
	x := explore.Exploration{Scenarios: []string{"DriveCompletingReproject"}}
	res, err := explore.ExploreWith(context.Background(), store, &lateApplyWrites{Store: store},
		"DriveCompletingReproject", x, explore.NewBatchOrchestrator)
	require.NoError(t, err)
	for _, v := range res.Violations {
		t.Errorf("%s\n%s", v.Error(), v.Trace)
	}
	require.Equal(t, 2, res.Schedules(), "the two schedules without preemption: A first, B first")
	require.Equal(t, 2, res.LateWrites, "in each, A's terminal write landed after its call returned")
}
