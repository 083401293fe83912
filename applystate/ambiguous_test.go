package applystate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

var errLost = errors.New("connection reset by peer")

// lostResponse is a memory store whose k-th UpdateApply (1-based) runs
// before, performs the write when write is set, and answers err instead of
// the store's result (the store's own answer when err is nil). With
// failReads, every GetApply after that call fails.
type lostResponse struct {
	*memory.Store
	k         int
	before    func(ctx context.Context)
	write     bool
	err       error
	failReads bool

	mu    sync.Mutex
	calls int
	hit   bool
}

func (l *lostResponse) UpdateApply(ctx context.Context, a storage.Apply, expected int64) (storage.Apply, error) {
	l.mu.Lock()
	l.calls++
	hit := l.calls == l.k
	l.hit = l.hit || hit
	l.mu.Unlock()
	if !hit {
		return l.Store.UpdateApply(ctx, a, expected)
	}
	if l.before != nil {
		l.before(ctx)
	}
	var written storage.Apply
	var err error
	if l.write {
		written, err = l.Store.UpdateApply(ctx, a, expected)
	}
	if l.err != nil {
		return storage.Apply{}, l.err
	}
	return written, err
}

func (l *lostResponse) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	l.mu.Lock()
	fail := l.hit && l.failReads
	l.mu.Unlock()
	if fail {
		return storage.Apply{}, errLost
	}
	return l.Store.GetApply(ctx, id)
}

// observed counts the observer's calls and its terminalizing ones.
type observed struct {
	mu                  sync.Mutex
	calls, terminalized int
	states              []string
}

func (o *observed) observe(_ context.Context, r applystate.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	o.states = append(o.states, r.Apply.State)
	if r.Terminalized {
		o.terminalized++
	}
}

// lostSetup creates apply "a" (running) with operations x and y in the
// given states over a lostResponse store, and a Projector over it with its
// own clock and observer.
func lostSetup(t *testing.T, l *lostResponse, x, y applystate.State) (*applystate.Projector, *observed) {
	t.Helper()
	ctx := context.Background()
	l.Store = memory.New()
	_, err := l.Store.CreateApply(ctx, storage.Apply{ID: "a", State: "running"})
	require.NoError(t, err)
	for i, s := range []applystate.State{x, y} {
		id := []string{"x", "y"}[i]
		_, err := l.Store.CreateOperation(ctx, storage.Operation{ApplyID: "a", ID: id, Seq: int64(i), Deployment: id, State: string(s)})
		require.NoError(t, err)
	}
	obs := &observed{}
	c := newClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	return newProjector(t, l, l, applystate.WithClock(c.Now), applystate.WithObserver(obs.observe)), obs
}

// The terminalizing apply write lands but its response is lost — a
// conflict (a resent request whose first attempt landed) or another error.
// The call reads the apply back, recognizes its own write, and reports
// Terminalized; the observer fires once, and a later caller sees nothing to
// do.
func TestLostResponseOnTerminalWriteIsOwned(t *testing.T) {
	t.Parallel()
	for name, err := range map[string]error{
		"conflict": fmt.Errorf("resent request: %w", storage.ErrConflict),
		"error":    errLost,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := &lostResponse{k: 1, write: true, err: err}
			p, obs := lostSetup(t, l, applystate.Completed, applystate.Running)
			ctx := context.Background()

			r, derr := p.Drive(ctx, "a", []applystate.Task{{OperationID: "y", State: applystate.Completed}})
			require.NoError(t, derr)
			require.True(t, l.hit, "the fault was reached")
			require.True(t, r.Terminalized, "the write that landed was this call's")
			require.True(t, r.Changed)
			require.Equal(t, applystate.Running, r.Previous)
			require.Equal(t, "completed", r.Apply.State)
			require.Equal(t, int64(2), r.Apply.Version)

			r, derr = p.Reproject(ctx, "a")
			require.NoError(t, derr)
			require.False(t, r.Terminalized)
			require.Equal(t, 1, obs.terminalized, "the terminal side effects are owned once")
			require.Equal(t, 1, obs.calls)
		})
	}
}

// A non-terminal apply write whose response is lost is recognized the same
// way: the observer sees it once.
func TestLostResponseOnNonTerminalWriteIsObserved(t *testing.T) {
	t.Parallel()
	l := &lostResponse{k: 1, write: true, err: fmt.Errorf("resent request: %w", storage.ErrConflict)}
	p, obs := lostSetup(t, l, applystate.Pending, applystate.Pending)
	ctx := context.Background()
	_, err := l.Store.UpdateApply(ctx, storage.Apply{ID: "a", State: "pending"}, 1)
	require.NoError(t, err)

	r, err := p.Drive(ctx, "a", []applystate.Task{{OperationID: "x", State: applystate.Running}})
	require.NoError(t, err)
	require.True(t, r.Changed)
	require.False(t, r.Terminalized)
	require.Equal(t, "running", r.Apply.State)
	require.Equal(t, 1, obs.calls)
	require.Equal(t, []string{"running"}, obs.states)
}

// Reproject (and so Stop and ReleasePause, which reproject) share the
// write: a lost response on its terminalizing write is owned as well.
func TestLostResponseOnReproject(t *testing.T) {
	t.Parallel()
	l := &lostResponse{k: 1, write: true, err: fmt.Errorf("resent request: %w", storage.ErrConflict)}
	p, obs := lostSetup(t, l, applystate.Completed, applystate.Completed)
	r, err := p.Reproject(context.Background(), "a")
	require.NoError(t, err)
	require.True(t, r.Terminalized)
	require.Equal(t, 1, obs.terminalized)
}

// The response is lost, but the write that landed at that version is
// another caller's: this call did not terminalize and says so without an
// error — the other caller owns the side effects.
func TestLostResponseWhereAnotherWriteLanded(t *testing.T) {
	t.Parallel()
	l := &lostResponse{k: 1, write: true, err: errLost}
	p, obs := lostSetup(t, l, applystate.Completed, applystate.Completed)
	other := &observed{}
	c := newClock(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	rival := newProjector(t, l.Store, l.Store, applystate.WithClock(c.Now), applystate.WithObserver(other.observe))
	l.before = func(ctx context.Context) {
		r, err := rival.Reproject(ctx, "a")
		require.NoError(t, err)
		require.True(t, r.Terminalized)
	}

	r, err := p.Drive(context.Background(), "a", []applystate.Task{{OperationID: "x", State: applystate.Completed}})
	require.NoError(t, err)
	require.False(t, r.Terminalized)
	require.False(t, r.Changed)
	require.Equal(t, "completed", r.Apply.State)
	require.Equal(t, 0, obs.calls)
	require.Equal(t, 1, other.terminalized)
}

// Concurrent calls of one Projector never store identical rows, even on a
// clock that stands still: a genuine conflict with a caller that projected
// the same terminal state from the same read is not mistaken for this
// call's write.
func TestIdenticalProjectionIsNotMistakenForOwnWrite(t *testing.T) {
	t.Parallel()
	l := &lostResponse{k: 1, write: true}
	l.Store = memory.New()
	ctx := context.Background()
	_, err := l.Store.CreateApply(ctx, storage.Apply{ID: "a", State: "running"})
	require.NoError(t, err)
	for i, id := range []string{"x", "y"} {
		_, err := l.Store.CreateOperation(ctx, storage.Operation{ApplyID: "a", ID: id, Seq: int64(i), State: "completed"})
		require.NoError(t, err)
	}
	frozen := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	obs := &observed{}
	p := newProjector(t, l, l, applystate.WithClock(func() time.Time { return frozen }), applystate.WithObserver(obs.observe))
	var rival applystate.Result
	l.before = func(ctx context.Context) {
		var err error
		rival, err = p.Reproject(ctx, "a") // the same read, the same projection, the same clock
		require.NoError(t, err)
	}

	r, err := p.Reproject(ctx, "a")
	require.NoError(t, err)
	require.True(t, rival.Terminalized)
	require.False(t, r.Terminalized, "the conflict was genuine: the row is the rival's")
	require.Equal(t, 1, obs.terminalized)
}

// Where the apply read back cannot settle whether the write landed, the
// call returns an error matching ErrAmbiguous and the store's error — never
// a silent success.
func TestUndecidableWriteIsAnError(t *testing.T) {
	t.Parallel()
	for name, l := range map[string]*lostResponse{
		"not landed yet":   {k: 1, err: errLost},
		"read back failed": {k: 1, write: true, err: errLost, failReads: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, obs := lostSetup(t, l, applystate.Completed, applystate.Running)
			r, err := p.Drive(context.Background(), "a", []applystate.Task{{OperationID: "y", State: applystate.Completed}})
			require.ErrorIs(t, err, applystate.ErrAmbiguous)
			require.ErrorIs(t, err, errLost)
			require.False(t, r.Terminalized)
			require.Equal(t, 0, obs.calls)
		})
	}
}
