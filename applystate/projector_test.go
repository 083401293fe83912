package applystate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// clock is the suite's fake clock, a second per reading.
type clock = explore.Clock

func newClock(start time.Time) *clock { return explore.NewClock(start, time.Second) }

type bundle struct {
	t     testing.TB
	store *memory.Store
	fs    *storagetest.FaultStore
	p     *applystate.Projector
	ctx   context.Context
}

type op struct {
	id     string
	policy applystate.Policy
}

// newProjector is applystate.NewProjector with options it accepts.
func newProjector(t testing.TB, applies storage.ApplyStore, ops storage.OperationStore, opts ...applystate.Option) *applystate.Projector {
	t.Helper()
	p, err := applystate.NewProjector(applies, ops, opts...)
	require.NoError(t, err)
	return p
}

// setup creates apply "a" with the given operations (Seq in order, all
// pending) and a projector over a counting store.
func setup(t *testing.T, ops []op, opts ...applystate.Option) *bundle {
	t.Helper()
	b := &bundle{t: t, store: memory.New(), ctx: context.Background()}
	b.fs = storagetest.NewFaultStore(b.store)
	c := newClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	b.p = newProjector(t, b.fs, b.fs, append([]applystate.Option{applystate.WithClock(c.Now)}, opts...)...)
	_, err := b.store.CreateApply(b.ctx, storage.Apply{ID: "a", State: "pending"})
	require.NoError(t, err)
	for i, o := range ops {
		_, err := b.store.CreateOperation(b.ctx, storage.Operation{ApplyID: "a", ID: o.id, Seq: int64(i), Deployment: "dep-" + o.id, State: "pending", OnFailure: string(o.policy)})
		require.NoError(t, err)
	}
	b.fs.ResetCounts()
	return b
}

func (b *bundle) drive(t *testing.T, id string, s S, msg ...string) applystate.Result {
	t.Helper()
	task := applystate.Task{OperationID: id, State: s}
	if len(msg) > 0 {
		task.ErrorMessage = msg[0]
	}
	r, err := b.p.Drive(b.ctx, "a", []applystate.Task{task})
	require.NoError(t, err)
	return r
}

func (b *bundle) apply(t *testing.T) storage.Apply {
	t.Helper()
	a, err := b.store.GetApply(b.ctx, "a")
	require.NoError(t, err)
	return a
}

func (b *bundle) op(t *testing.T, id string) storage.Operation {
	t.Helper()
	o, err := b.store.GetOperation(b.ctx, "a", id)
	require.NoError(t, err)
	return o
}

func TestDriveFoldsSiblings(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"east", ""}, {"west", ""}})
	r := b.drive(t, "west", ru)
	require.Equal(t, string(ru), r.Apply.State)
	require.True(t, r.Changed)
	require.Equal(t, pe, r.Previous)
	r = b.drive(t, "east", cp)
	require.Equal(t, string(ru), r.Apply.State, "west still holds its target")
	require.False(t, r.Terminalized)
	r = b.drive(t, "west", cp)
	require.Equal(t, string(cp), r.Apply.State)
	require.True(t, r.Terminalized)
	require.False(t, r.Apply.CompletedAt.IsZero())
}

// A stale sibling row is folded over by the caller's fresh state.
func TestDriveFoldsFreshStateOverStaleRow(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"x", ""}})
	b.drive(t, "x", ru)
	r := b.drive(t, "x", cp)
	require.Equal(t, string(cp), r.Apply.State)
	require.Equal(t, string(cp), b.op(t, "x").State)
}

func TestDriveStampsTimesOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"x", ""}, {"y", ""}})
	b.drive(t, "x", ru)
	a1 := b.apply(t)
	o1 := b.op(t, "x")
	require.False(t, a1.StartedAt.IsZero())
	require.False(t, o1.StartedAt.IsZero())
	require.True(t, o1.CompletedAt.IsZero())
	b.drive(t, "y", ru)
	b.drive(t, "x", cp)
	require.Equal(t, a1.StartedAt, b.apply(t).StartedAt, "StartedAt is never rewound")
	require.Equal(t, o1.StartedAt, b.op(t, "x").StartedAt)
	require.False(t, b.op(t, "x").CompletedAt.IsZero())
	require.True(t, b.apply(t).CompletedAt.IsZero(), "not terminal yet")
}

func TestDriveNoChangeNoWrite(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"x", ""}, {"y", ""}})
	b.drive(t, "x", ru)
	b.fs.ResetCounts()
	r := b.drive(t, "x", ru)
	require.False(t, r.Changed)
	require.Zero(t, b.fs.Writes(), "%v", b.fs.Counts())
}

func TestDriveErrorMessageFirstInRolloutOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"first", applystate.Continue}, {"second", applystate.Continue}, {"third", ""}})
	b.drive(t, "second", fa, "disk full")
	require.Equal(t, "deployment dep-second failed: disk full", b.apply(t).ErrorMessage)
	b.drive(t, "first", fa, "timeout")
	require.Equal(t, "deployment dep-first failed: timeout", b.apply(t).ErrorMessage)
	r := b.drive(t, "third", cp)
	require.Equal(t, string(fa), r.Apply.State)
	require.True(t, r.Terminalized)
	require.Equal(t, "deployment dep-first failed: timeout", r.Apply.ErrorMessage)
}

func TestDriveTruncatesMessages(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"x", ""}})
	long := strings.Repeat("é", storage.MaxMessageBytes) // 2 bytes each
	r := b.drive(t, "x", fa, long)
	require.LessOrEqual(t, len(r.Apply.ErrorMessage), storage.MaxMessageBytes)
	require.LessOrEqual(t, len(b.op(t, "x").ErrorMessage), storage.MaxMessageBytes)
	require.True(t, strings.HasPrefix(r.Apply.ErrorMessage, "deployment dep-x failed: éé"))
}

func TestTerminalApplyNeverOverwritten(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"x", ""}})
	b.drive(t, "x", cp)
	before := b.apply(t)
	b.fs.ResetCounts()
	// Without an operation store the tasks are authoritative, and still
	// never overwrite a terminal apply.
	r, err := newProjector(t, b.fs, nil).Drive(b.ctx, "a", []applystate.Task{{State: ru}})
	require.NoError(t, err)
	require.False(t, r.Changed)
	require.Equal(t, before, r.Apply)
	require.Equal(t, before, b.apply(t))
	require.Zero(t, b.fs.Calls(storagetest.UpdateApply))
}

// A listing that fails leaves the apply as it is — no projection without
// every row, whatever the state reported — and returns the error; the row
// written stays unacknowledged, so the next poll projects it.
func TestDriveListErrorWritesNoApply(t *testing.T) {
	t.Parallel()
	for _, s := range []S{cp, applystate.CatchingUp} {
		t.Run(string(s), func(t *testing.T) {
			t.Parallel()
			b := setup(t, []op{{"x", ""}, {"y", ""}})
			b.drive(t, "x", ru)
			before := b.apply(t)
			_, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Methods: []storagetest.Method{storagetest.ListOperations}})
			require.NoError(t, err)
			_, err = b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "x", State: s}})
			require.ErrorIs(t, err, storagetest.ErrInjected)
			require.Equal(t, before, b.apply(t), "the apply is not written")
			require.False(t, b.op(t, "x").Projected)
			b.fs.ClearFaults()
			r := b.drive(t, "x", s)
			require.Equal(t, string(ru), r.Apply.State, "the next poll projects the row (y is still to run)")
			require.True(t, b.op(t, "x").Projected)
		})
	}
}

// A store whose listing lacks the row just written (it does not read after
// write) gets no projection: Undetermined, the apply not written.
func TestDriveZeroRowsFailsClosed(t *testing.T) {
	t.Parallel()
	for _, terminal := range []bool{true, false} {
		b := setup(t, nil)
		_, err := b.store.CreateApply(b.ctx, storage.Apply{ID: "lonely", State: "pending"})
		require.NoError(t, err)
		// An operation store that lists nothing even though the row exists.
		empty := emptyLister{OperationStore: b.store}
		_, err = b.store.CreateOperation(b.ctx, storage.Operation{ApplyID: "lonely", ID: "x", State: "pending"})
		require.NoError(t, err)
		p := newProjector(t, b.store, empty)
		s := ru
		if terminal {
			s = cp
		}
		r, err := p.Drive(b.ctx, "lonely", []applystate.Task{{OperationID: "x", State: s}})
		require.NoError(t, err)
		require.True(t, r.Undetermined, "a listing without the row just written projects nothing")
		a, err := b.store.GetApply(b.ctx, "lonely")
		require.NoError(t, err)
		require.Equal(t, string(pe), a.State, "the apply is not written")
	}
}

type emptyLister struct{ storage.OperationStore }

func (emptyLister) ListOperations(context.Context, string) ([]storage.Operation, error) {
	return nil, nil
}

func TestDriveWithoutOperationModel(t *testing.T) {
	t.Parallel()
	b := setup(t, nil) // an apply without operation rows
	r, err := b.p.Drive(b.ctx, "a", []applystate.Task{{State: ru}, {State: cp}})
	require.NoError(t, err)
	require.Equal(t, string(ru), r.Apply.State)
	r, err = b.p.Drive(b.ctx, "a", []applystate.Task{{State: fa, ErrorMessage: "boom"}})
	require.NoError(t, err)
	require.True(t, r.Terminalized, "without a model the tasks are authoritative")
	require.Equal(t, "boom", r.Apply.ErrorMessage)
	ops, err := b.store.ListOperations(b.ctx, "a")
	require.NoError(t, err)
	require.Empty(t, ops, "no operation written")

	// A nil operation store: the same, even with ids.
	b2 := setup(t, []op{{"x", ""}, {"y", ""}})
	p := newProjector(t, b2.store, nil)
	r, err = p.Drive(b2.ctx, "a", []applystate.Task{{OperationID: "x", State: cp}})
	require.NoError(t, err)
	require.Equal(t, string(cp), r.Apply.State)
	_, err = p.Reproject(b2.ctx, "a")
	require.ErrorIs(t, err, storage.ErrInvalid)
}

func TestStop(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"done", ""}, {"busy", ""}, {"later", ""}})
	b.drive(t, "done", cp)
	b.drive(t, "busy", ru)
	r, err := b.p.Stop(b.ctx, "a")
	require.NoError(t, err)
	require.True(t, r.Changed)
	require.True(t, r.Apply.StopRequested)
	require.Equal(t, string(st), b.op(t, "later").State)
	require.Equal(t, string(ru), b.op(t, "busy").State, "started work is left to its drive loop")
	require.Equal(t, string(ru), r.Apply.State, "never terminal while busy is in flight")
	r = b.drive(t, "busy", st)
	require.Equal(t, string(st), r.Apply.State)
	require.True(t, r.Terminalized)
	require.True(t, r.Apply.CompletedAt.IsZero(), "CompletedAt is for terminal states other than stopped")
	// Stopping a terminal apply changes nothing.
	b.fs.ResetCounts()
	r, err = b.p.Stop(b.ctx, "a")
	require.NoError(t, err)
	require.False(t, r.Changed)
	require.Zero(t, b.fs.Writes())
}

func TestReleasePause(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"canary", applystate.Pause}, {"rest", ""}})
	r := b.drive(t, "canary", fa, "5xx")
	require.Equal(t, string(pa), r.Apply.State)
	r, err := b.p.ReleasePause(b.ctx, "a")
	require.NoError(t, err)
	require.False(t, r.Apply.PauseReleased)
	requireReleased(t, b.op(t, "canary"), true, "the released failure")
	require.Equal(t, string(rd), r.Apply.State)
	b.drive(t, "rest", ru)
	r = b.drive(t, "rest", cp)
	require.Equal(t, string(fa), r.Apply.State)
	require.True(t, r.Terminalized)
	require.Equal(t, "deployment dep-canary failed: 5xx", r.Apply.ErrorMessage)
}

// Reproject repairs a crash between the operation write and the apply write.
func TestReproject(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"x", ""}, {"y", ""}})
	b.drive(t, "x", cp)
	b.drive(t, "y", ru)
	o := b.op(t, "y")
	o.State = string(cp)
	_, err := b.store.UpdateOperation(b.ctx, o, o.Version)
	require.NoError(t, err)
	r, err := b.p.Reproject(b.ctx, "a")
	require.NoError(t, err)
	require.Equal(t, string(cp), r.Apply.State)
	require.True(t, r.Terminalized)
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

func TestInputErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"x", ""}})
	for name, call := range map[string]func() error{
		"empty apply":     func() error { _, err := b.p.Drive(b.ctx, "", nil); return err },
		"oversized apply": func() error { _, err := b.p.Reproject(b.ctx, strings.Repeat("a", 256)); return err },
		"invalid operation": func() error {
			_, err := b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "\xff", State: ru}})
			return err
		},
		"unknown task state": func() error {
			_, err := b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "x", State: "bogus"}})
			return err
		},
		"stop without ops": func() error { _, err := newProjector(t, b.store, nil).Stop(b.ctx, "a"); return err },
		"nil drive option": func() error {
			_, err := b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "x", State: ru}}, nil)
			return err
		},
	} {
		err := call()
		require.ErrorIs(t, err, storage.ErrInvalid, name)
	}
	_, err := b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "x", State: "bogus"}})
	require.ErrorContains(t, err, "tasks[0].State")
	require.Zero(t, b.fs.TotalCalls())
	_, err = b.p.Drive(b.ctx, "missing", []applystate.Task{{State: ru}})
	require.ErrorIs(t, err, storage.ErrNotFound)
}

// NewProjector reports a nil store, a nil Option and an option value it
// cannot use as storage.ErrInvalid naming it; nothing is replaced.
func TestNewProjectorRejectsBadOptions(t *testing.T) {
	t.Parallel()
	store := memory.New()
	for _, c := range []struct {
		name    string
		applies storage.ApplyStore
		opts    []applystate.Option
		field   string
	}{
		{"nil applies", nil, nil, "applies"},
		{"nil option", store, []applystate.Option{applystate.WithMaxAttempts(2), nil}, "opts"},
		{"no attempt", store, []applystate.Option{applystate.WithMaxAttempts(0)}, "WithMaxAttempts"},
		{"negative attempts", store, []applystate.Option{applystate.WithMaxAttempts(-1)}, "WithMaxAttempts"},
		{"nil clock", store, []applystate.Option{applystate.WithClock(nil)}, "WithClock"},
		{"nil logger", store, []applystate.Option{applystate.WithLogger(nil)}, "WithLogger"},
	} {
		p, err := applystate.NewProjector(c.applies, store, c.opts...)
		require.ErrorIs(t, err, storage.ErrInvalid, c.name)
		require.ErrorContains(t, err, c.field, c.name)
		require.Nil(t, p, c.name)
	}
	for _, opts := range [][]applystate.Option{nil, {applystate.WithMaxAttempts(1), applystate.WithObserver(nil)}} {
		p, err := applystate.NewProjector(store, nil, opts...)
		require.NoError(t, err)
		require.NotNil(t, p)
	}
}

func TestObserverSeesTheWriterOnly(t *testing.T) {
	t.Parallel()
	var seen []applystate.Result
	b := setup(t, []op{{"x", ""}}, applystate.WithObserver(func(_ context.Context, r applystate.Result) { seen = append(seen, r) }))
	b.drive(t, "x", ru)
	b.drive(t, "x", ru) // no change: not observed
	b.drive(t, "x", cp)
	require.Len(t, seen, 2)
	require.True(t, seen[1].Terminalized)
}

// 16 sibling operations driven from 16 goroutines, 100 rounds: each round
// ends in Rollout of the stored operations, terminalized exactly once.
func TestConcurrentSiblings(t *testing.T) {
	t.Parallel()
	rounds := 100
	if testing.Short() {
		rounds = 10
	}
	ctx := context.Background()
	for round := range rounds {
		store := memory.New()
		var terminalized atomic.Int32
		p := newProjector(t, store, store, applystate.WithObserver(func(_ context.Context, r applystate.Result) {
			if r.Terminalized {
				terminalized.Add(1)
			}
		}))
		_, err := store.CreateApply(ctx, storage.Apply{ID: "a", State: "pending"})
		require.NoError(t, err)
		for i := range 16 {
			_, err := store.CreateOperation(ctx, storage.Operation{ApplyID: "a", ID: fmt.Sprintf("op%02d", i), Seq: int64(i), State: "pending", OnFailure: "continue"})
			require.NoError(t, err)
		}
		var g errgroup.Group
		var results atomic.Int32
		for i := range 16 {
			g.Go(func() error {
				final := cp
				if (i+round)%5 == 0 {
					final = fa
				}
				for _, s := range []S{ru, final} {
					for {
						r, err := p.Drive(ctx, "a", []applystate.Task{{OperationID: fmt.Sprintf("op%02d", i), State: s, ErrorMessage: "e"}})
						if errors.Is(err, storage.ErrConflict) {
							continue
						}
						if err != nil {
							return err
						}
						if r.Terminalized {
							results.Add(1)
						}
						break
					}
				}
				return nil
			})
		}
		require.NoError(t, g.Wait())
		require.NoError(t, explore.CheckApplyProjected(ctx, store, "a"), "round %d", round)
		a, err := store.GetApply(ctx, "a")
		require.NoError(t, err)
		require.True(t, applystate.State(a.State).Terminal(), "round %d: %s", round, a.State)
		require.Equal(t, int32(1), terminalized.Load(), "round %d", round)
		require.Equal(t, int32(1), results.Load(), "round %d", round)
	}
}

// staleLister lists the operations as they were when it was created: a
// lagging read (a replica, an eventually consistent index).
type staleLister struct {
	storage.OperationStore
	rows []storage.Operation
}

func (s staleLister) ListOperations(context.Context, string) ([]storage.Operation, error) {
	return append([]storage.Operation(nil), s.rows...), nil
}

// A listing that still shows the caller's operation as it was before the
// write is folded over by the fresh row: the other operation completed, the
// stale row says pending, the fresh one completed → the apply completes.
func TestDriveFoldsFreshRowOverStaleListing(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"x", ""}, {"y", ""}})
	b.drive(t, "x", ru)
	b.drive(t, "y", ru)
	b.drive(t, "y", cp)
	stale, err := b.store.ListOperations(b.ctx, "a")
	require.NoError(t, err)
	i := slices.IndexFunc(stale, func(o storage.Operation) bool { return o.ID == "x" })
	require.Equal(t, string(ru), stale[i].State, "x is listed as running") // listings come in any order
	p := newProjector(t, b.store, staleLister{OperationStore: b.store, rows: stale})
	r, err := p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "x", State: cp}})
	require.NoError(t, err)
	require.Equal(t, string(cp), r.Apply.State)
	require.True(t, r.Terminalized)
}

// A canceled context is returned before any store call; a bad applyID is
// reported by field name, and nothing is read or written.
func TestCanceledContextAndFieldNames(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"x", ""}})
	ctx, cancel := context.WithCancel(b.ctx)
	cancel()
	for name, call := range map[string]func() (applystate.Result, error){
		"drive": func() (applystate.Result, error) {
			return b.p.Drive(ctx, "a", []applystate.Task{{OperationID: "x", State: cp}})
		},
		"reproject": func() (applystate.Result, error) { return b.p.Reproject(ctx, "a") },
		"stop":      func() (applystate.Result, error) { return b.p.Stop(ctx, "a") },
		"release":   func() (applystate.Result, error) { return b.p.ReleasePause(ctx, "a") },
	} {
		_, err := call()
		require.ErrorIs(t, err, context.Canceled, name)
	}
	_, err := b.p.Drive(b.ctx, "\xff", nil)
	require.ErrorIs(t, err, storage.ErrInvalid)
	require.ErrorContains(t, err, "applyID")
	_, err = b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "x", State: ru}, {OperationID: strings.Repeat("o", 1000), State: ru}})
	require.ErrorIs(t, err, storage.ErrInvalid)
	require.ErrorContains(t, err, "tasks[1].OperationID")
	require.Zero(t, b.fs.TotalCalls())
	require.Equal(t, string(pe), b.op(t, "x").State)
}

// Without an operation model a non-failed state keeps the stored message.
func TestDriveWithoutModelKeepsMessage(t *testing.T) {
	t.Parallel()
	store := memory.New()
	ctx := context.Background()
	_, err := store.CreateApply(ctx, storage.Apply{ID: "m", State: "running", ErrorMessage: "earlier retryable failure"})
	require.NoError(t, err)
	r, err := newProjector(t, store, nil).Drive(ctx, "m", []applystate.Task{{State: cu}})
	require.NoError(t, err)
	require.True(t, r.Changed)
	require.Equal(t, string(cu), r.Apply.State)
	require.Equal(t, "earlier retryable failure", r.Apply.ErrorMessage)
}
