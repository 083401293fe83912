package applystate_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/hook/hooktest"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// finishedRows returns the finished-index rows of namespace ns over 4
// shards filed under the UTC day of t.
func finishedRows(t *testing.T, store *memory.Store, day time.Time) []storage.Member {
	var out []storage.Member
	for i := range 4 {
		rows, err := store.ListMembers(context.Background(), fmt.Sprintf("ns:done:%d", i), "\x00statefold:done:"+day.UTC().Format(time.DateOnly))
		require.NoError(t, err)
		out = append(out, rows...)
	}
	return out
}

// finish drives every operation of apply id to completed.
func finish(t *testing.T, p *applystate.Projector, id string, ops ...string) {
	for _, op := range ops {
		_, err := p.Drive(context.Background(), id, []applystate.Task{{OperationID: op, State: applystate.Completed}})
		require.NoError(t, err)
	}
}

// requirePruned asserts that apply id is a terminal tombstone: no payload,
// no operations.
func requirePruned(t *testing.T, store *memory.Store, id string, pruned bool) {
	a, err := store.GetApply(context.Background(), id)
	require.NoError(t, err)
	ops, err := store.ListOperations(context.Background(), id)
	require.NoError(t, err)
	if pruned {
		require.True(t, applystate.State(a.State).Terminal(), id)
		require.Nil(t, a.Payload, id)
		require.Empty(t, ops, id)
		return
	}
	require.NotEmpty(t, ops, id)
}

// createFinished creates each apply of ids with one operation, x, and
// drives it to completed.
func createFinished(t *testing.T, p *applystate.Projector, ids ...string) {
	for _, id := range ids {
		_, _, err := p.CreatePlan(context.Background(), payloadPlan(id, "x"))
		require.NoError(t, err)
		finish(t, p, id, "x")
	}
}

func payloadPlan(id string, ops ...string) applystate.Plan {
	p := plan(id, ops...)
	p.Apply.Payload = []byte(`{"image":"v2"}`)
	return p
}

// A terminal apply is filed under its day of completion before it leaves
// the open index; PruneFinished prunes the filed applies older than the
// retention, in pages, and never an open one.
func TestPruneFinished(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	l := newLister(t, store)
	for _, id := range []string{"a1", "a2", "a3", "open"} {
		_, _, err := l.p.CreatePlan(ctx, payloadPlan(id, "x", "y"))
		require.NoError(t, err)
	}
	for _, id := range []string{"a1", "a2"} {
		finish(t, l.p, id, "x", "y")
	}
	_, err := l.p.Stop(ctx, "a3") // stopped: no CompletedAt, its terminal write's UpdatedAt counts
	require.NoError(t, err)
	require.Len(t, finishedRows(t, store, discoveryStart), 3, "filed under the day they finished")
	require.Len(t, indexRows(t, store), 1, "only the open apply left in the open index")

	since := discoveryStart.Add(-24 * time.Hour)
	rep, err := l.p.PruneFinished(ctx, since, l.c.Now().Add(time.Second), 2)
	require.NoError(t, err)
	require.Equal(t, 2, rep.Pruned)
	require.True(t, rep.More, "stopped at the limit")
	require.Equal(t, discoveryStart.Truncate(24*time.Hour), rep.Next, "the day it stopped in")

	rep, err = l.p.PruneFinished(ctx, rep.Next, l.c.Now().Add(time.Second), 2)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pruned)
	require.False(t, rep.More)
	for _, id := range []string{"a1", "a2", "a3"} {
		requirePruned(t, store, id, true)
	}
	requirePruned(t, store, "open", false)
	require.Empty(t, finishedRows(t, store, discoveryStart), "the index rows of pruned applies are removed")
	open, err := l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"open"}, ids(open))
}

// An apply finished at or after before is kept, its row too, for a later
// call; the days before since are not read.
func TestPruneFinishedKeepsRecentApplies(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	l := newLister(t, store)
	createFinished(t, l.p, "a1")
	a, err := store.GetApply(ctx, "a1")
	require.NoError(t, err)

	rep, err := l.p.PruneFinished(ctx, discoveryStart.Add(-48*time.Hour), a.CompletedAt, 10)
	require.NoError(t, err)
	require.Equal(t, applystate.PruneReport{Scanned: 1, Kept: 1, Next: discoveryStart.Truncate(24 * time.Hour)}, rep)
	rep, err = l.p.PruneFinished(ctx, discoveryStart.Add(24*time.Hour), discoveryStart.Add(48*time.Hour), 10)
	require.NoError(t, err)
	require.Zero(t, rep.Scanned, "a later day holds nothing")
	requirePruned(t, store, "a1", false)
	require.Len(t, finishedRows(t, store, discoveryStart), 1)
}

// A PruneFinished that stops after pruning an apply and before removing its
// index row (a crash) leaves the row; the next call cleans it, and prunes
// nothing twice.
func TestPruneFinishedResumesAfterACrash(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	l := newLister(t, store)
	createFinished(t, l.p, "a1", "a2")
	paused, resume := make(chan struct{}), make(chan struct{})
	l.fs.SetHook(func(_ context.Context, m storagetest.Method) error {
		if m != storagetest.RemoveMember {
			return nil
		}
		close(paused) // the first removal of an index row: the apply is pruned
		<-resume
		return errors.New("crash")
	})
	p := newProjector(t, l.fs, l.fs, applystate.WithClock(l.c.Now), applystate.WithDiscovery(l.fs, "ns", 4), applystate.WithListConcurrency(1))
	done := make(chan error)
	go func() {
		_, err := p.PruneFinished(ctx, discoveryStart, l.c.Now().Add(time.Second), 10)
		done <- err
	}()
	<-paused
	first, second := "a1", "a2" // the first pruned is the first of the shards read
	if a, err := store.GetApply(ctx, first); err == nil && a.Payload != nil {
		first, second = second, first
	}
	requirePruned(t, store, first, true)
	requirePruned(t, store, second, false)
	require.Len(t, finishedRows(t, store, discoveryStart), 2, "paused between the prune and the row's removal")
	close(resume)
	require.ErrorContains(t, <-done, "crash")
	l.fs.SetHook(nil)

	rep, err := l.p.PruneFinished(ctx, discoveryStart, l.c.Now().Add(time.Second), 10)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Cleaned, "the first apply's row, left by the crash")
	require.Equal(t, 1, rep.Pruned, "the second apply")
	require.Equal(t, 1, rep.Operations, "only the second apply's operation was left to delete")
	requirePruned(t, store, second, true)
	require.Empty(t, finishedRows(t, store, discoveryStart))
}

// A terminalizing call that could not file the apply leaves it in the open
// index (never in neither); ListOpen files it before removing its open
// row, and PruneFinished finds it.
func TestListOpenFilesTerminalApplies(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	l := newLister(t, store)
	_, _, err := l.p.CreatePlan(ctx, payloadPlan("a1", "x"))
	require.NoError(t, err)
	_, err = l.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 1, Methods: []storagetest.Method{storagetest.AddMember}})
	require.NoError(t, err)
	finish(t, l.p, "a1", "x")
	require.Len(t, indexRows(t, store), 1, "not filed: kept in the open index")
	require.Empty(t, finishedRows(t, store, discoveryStart))

	_, err = l.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 1, Methods: []storagetest.Method{storagetest.AddMember}})
	require.NoError(t, err)
	open, err := l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Empty(t, open)
	require.Len(t, indexRows(t, store), 1, "ListOpen could not file it: its open row is kept")
	require.Empty(t, finishedRows(t, store, discoveryStart))

	open, err = l.p.ListOpen(ctx)
	require.NoError(t, err)
	require.Empty(t, open)
	require.Empty(t, indexRows(t, store))
	require.Len(t, finishedRows(t, store, discoveryStart), 1, "filed by ListOpen")
	rep, err := l.p.PruneFinished(ctx, discoveryStart, l.c.Now().Add(time.Second), 10)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pruned)
}

// A row whose apply is missing (deleted), or pruned already by Prune with
// its id, is removed as Cleaned.
func TestPruneFinishedCleansStaleRows(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	l := newLister(t, store)
	createFinished(t, l.p, "a1", "a2")
	rep, err := l.p.Prune(ctx, []string{"a1"}, l.c.Now().Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pruned)
	a2, err := store.GetApply(ctx, "a2")
	require.NoError(t, err)
	ops, err := store.ListOperations(ctx, "a2")
	require.NoError(t, err)
	require.NoError(t, store.DeleteOperation(ctx, "a2", "x", ops[0].Version))
	require.NoError(t, store.DeleteApply(ctx, "a2", a2.Version))

	rep, err = l.p.PruneFinished(ctx, discoveryStart, l.c.Now().Add(time.Second), 10)
	require.NoError(t, err)
	require.Equal(t, applystate.PruneReport{Scanned: 2, Cleaned: 2, Next: l.c.Now().UTC().Truncate(24 * time.Hour)}, rep)
	require.Empty(t, finishedRows(t, store, discoveryStart))
}

func TestPruneFinishedInvalid(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	l := newLister(t, store)
	now := l.c.Now()
	for name, call := range map[string]func() error{
		"limit 0":     func() error { _, err := l.p.PruneFinished(ctx, now.Add(-time.Hour), now, 0); return err },
		"limit big":   func() error { _, err := l.p.PruneFinished(ctx, now.Add(-time.Hour), now, 10001); return err },
		"empty range": func() error { _, err := l.p.PruneFinished(ctx, now, now, 1); return err },
		"long range":  func() error { _, err := l.p.PruneFinished(ctx, now.Add(-400*24*time.Hour), now, 1); return err },
		"no discovery": func() error {
			_, err := newProjector(t, store, store).PruneFinished(ctx, now.Add(-time.Hour), now, 1)
			return err
		},
	} {
		require.ErrorIs(t, call(), storage.ErrInvalid, name)
	}
}

// PruneFinished is one call to the hooks, with the number it pruned.
func TestHooksPruneFinished(t *testing.T) {
	ctx, store := context.Background(), memory.New()
	var h hooktest.Heard
	l := newLister(t, store, applystate.WithHooks(h.Hooks()))
	createFinished(t, l.p, "a1")
	rep, err := l.p.PruneFinished(ctx, discoveryStart, l.c.Now().Add(time.Second), 10)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pruned)
	require.Equal(t, []string{`  pruned  1 attempt 0 in PruneFinished`, `PruneFinished /  "" 1`}, h.Lines[len(h.Lines)-2:])
}
