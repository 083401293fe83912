package batchstate_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

var mq = batchstate.Machine{
	States:   []string{"created", "speculating", "merging", "succeeded", "failed", "cancelling", "cancelled"},
	Terminal: []string{"succeeded", "failed", "cancelled"},
	Transitions: map[string][]string{
		"created":     {"speculating", "cancelling"},
		"speculating": {"merging", "failed", "created", "cancelling"},
		"merging":     {"succeeded", "failed"},
		"cancelling":  {"cancelled"},
	},
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type bundle struct {
	store *memory.Store
	fs    *storagetest.FaultStore
	o     *batchstate.Orchestrator
	clock *clock
	m     batchstate.Machine
}

func setup(t *testing.T, m batchstate.Machine, opts ...batchstate.Option) *bundle {
	t.Helper()
	b := &bundle{store: memory.New(), clock: newClock(), m: m}
	b.fs = storagetest.NewFaultStore(b.store)
	var err error
	b.o, err = batchstate.New(b.fs, b.fs, m, append([]batchstate.Option{batchstate.WithClock(b.clock.Now)}, opts...)...)
	require.NoError(t, err)
	return b
}

func (b *bundle) create(t *testing.T, id, state string) storage.Batch {
	t.Helper()
	bt, err := b.o.Create(context.Background(), storage.Batch{Queue: "q", ID: id, State: state})
	require.NoError(t, err)
	return bt
}

func (b *bundle) ids(t *testing.T, states ...string) []string {
	t.Helper()
	got, err := b.o.List(context.Background(), "q", states...)
	require.NoError(t, err)
	out := make([]string, len(got))
	for i, x := range got {
		out[i] = x.ID
	}
	return out
}

func (b *bundle) rows(t *testing.T, state string) map[string]int64 {
	t.Helper()
	ms, err := b.store.ListMembers(context.Background(), "q", state)
	require.NoError(t, err)
	out := make(map[string]int64, len(ms))
	for _, m := range ms {
		out[m.BatchID] = m.Version
	}
	return out
}

func TestCreateAndTransition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	x := b.create(t, "x", "created")
	require.Equal(t, int64(1), x.Version)
	require.Equal(t, x.CreatedAt, x.UpdatedAt)
	require.Equal(t, []string{"x"}, b.ids(t, "created"))
	require.Equal(t, map[string]int64{"x": 1}, b.rows(t, "created"))

	x2, err := b.o.Transition(ctx, x, "speculating")
	require.NoError(t, err)
	require.Equal(t, int64(2), x2.Version)
	require.Equal(t, "speculating", x2.State)
	require.True(t, x2.UpdatedAt.After(x.UpdatedAt))
	require.Empty(t, b.ids(t, "created"))
	require.Equal(t, []string{"x"}, b.ids(t, "speculating"))
	require.Empty(t, b.rows(t, "created"), "the previous row is removed")
	require.Equal(t, map[string]int64{"x": 2}, b.rows(t, "speculating"), "the new row carries the new version")

	// Into a terminal state: no row anywhere.
	x3, err := b.o.Transition(ctx, x2, "cancelling")
	require.NoError(t, err)
	_, err = b.o.Transition(ctx, x3, "cancelled")
	require.NoError(t, err)
	for _, s := range mq.States {
		if !mq.IsTerminal(s) {
			require.Empty(t, b.rows(t, s), s)
		}
	}
}

func TestListResolvesWithOneGetBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	for i := range 150 {
		bt := b.create(t, fmt.Sprintf("b%03d", i), "created")
		if i%3 == 1 {
			_, err := b.o.Transition(ctx, bt, "speculating")
			require.NoError(t, err)
		}
	}
	// A stray row in a third bucket for a batch listed under another state.
	require.NoError(t, b.store.AddMember(ctx, storage.Member{Queue: "q", State: "merging", BatchID: "b001", Version: 9}))
	b.fs.ResetCounts()
	got, err := b.o.List(ctx, "q", "created", "speculating", "merging", "created")
	require.NoError(t, err)
	require.Len(t, got, 150, "each batch once")
	require.Equal(t, 1, b.fs.Calls(storagetest.GetBatches))
	require.Equal(t, 3, b.fs.Calls(storagetest.ListMembers), "states are deduplicated")
	require.Zero(t, b.fs.Calls(storagetest.GetBatch))
	for i := 1; i < len(got); i++ {
		require.True(t, got[i-1].CreatedAt.Before(got[i].CreatedAt), "ordered by CreatedAt")
	}
}

func TestListOrdersByCreatedAtThenID(t *testing.T) {
	t.Parallel()
	same := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := setup(t, mq)
	o, err := batchstate.New(b.store, b.store, mq, batchstate.WithClock(func() time.Time { return same }))
	require.NoError(t, err)
	for _, id := range []string{"c", "a", "b"} {
		_, err := o.Create(context.Background(), storage.Batch{Queue: "q", ID: id, State: "created"})
		require.NoError(t, err)
	}
	got, err := o.List(context.Background(), "q", "created")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, []string{got[0].ID, got[1].ID, got[2].ID})
}

func TestListFiltersByQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	b.create(t, "x", "created")
	_, err := b.o.Create(ctx, storage.Batch{Queue: "other", ID: "y", State: "created"})
	require.NoError(t, err)
	require.Equal(t, []string{"x"}, b.ids(t, "created"))
}

func TestAddMemberFailureCreatesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	_, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Methods: []storagetest.Method{storagetest.AddMember}})
	require.NoError(t, err)
	_, err = b.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "created"})
	require.ErrorIs(t, err, storagetest.ErrInjected)
	require.Zero(t, b.fs.Calls(storagetest.CreateBatch))
	_, err = b.store.GetBatch(ctx, "q", "x")
	require.ErrorIs(t, err, storage.ErrNotFound)
}

func TestBatchCreateFailureKeepsRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	_, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 1, Methods: []storagetest.Method{storagetest.CreateBatch}})
	require.NoError(t, err)
	_, err = b.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "created"})
	require.ErrorIs(t, err, storagetest.ErrInjected)
	require.Contains(t, b.rows(t, "created"), "x", "a returned error does not prove the batch was not written: the row stays")
	require.Empty(t, b.ids(t, "created"), "a row without a batch is not listed")
	require.Contains(t, b.rows(t, "created"), "x", "and List does not delete it")

	b.create(t, "x", "created") // the retry
	require.Equal(t, []string{"x"}, b.ids(t, "created"))
}

func TestDuplicateCreateKeepsOriginal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	first, err := b.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "speculating", Payload: []byte("first")})
	require.NoError(t, err)
	_, err = b.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "created", Payload: []byte("second")})
	require.ErrorIs(t, err, storage.ErrAlreadyExists)
	got, err := b.o.List(ctx, "q", "created", "speculating")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, first, got[0])
}

func TestLostCAS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	x := b.create(t, "x", "created")
	_, err := b.o.Transition(ctx, x, "speculating") // a rival wins
	require.NoError(t, err)

	got, err := b.o.Transition(ctx, x, "cancelling") // from a stale read
	require.ErrorIs(t, err, storage.ErrConflict)
	require.Equal(t, x, got, "the original batch is returned")
	require.Contains(t, b.rows(t, "cancelling"), "x", "the stray row stays")
	require.Empty(t, b.ids(t, "cancelling"), "and is filtered on read")
	require.Equal(t, []string{"x"}, b.ids(t, "speculating"))

	rep, err := b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, 1, rep.RemovedStale)
	require.Equal(t, 1, rep.Kept)
	require.Empty(t, b.rows(t, "cancelling"))
}

func TestRemovalFailureAfterCAS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	x := b.create(t, "x", "created")
	_, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Methods: []storagetest.Method{storagetest.RemoveMember}})
	require.NoError(t, err)
	x2, err := b.o.Transition(ctx, x, "speculating")
	require.NoError(t, err, "removal is best-effort")
	require.Equal(t, "speculating", x2.State)
	require.Equal(t, 1, b.fs.Hits())
	require.Equal(t, []string{"x"}, b.ids(t, "speculating"))
	require.Empty(t, b.ids(t, "created"), "the leftover row does not misreport")
}

func TestDanglingRowGrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq, batchstate.WithDanglingGrace(time.Minute))
	require.NoError(t, b.store.AddMember(ctx, storage.Member{Queue: "q", State: "created", BatchID: "ghost", Version: 1, AddedAt: b.clock.Now()}))
	b.create(t, "live", "created")
	require.Equal(t, []string{"live"}, b.ids(t, "created"))

	rep, err := b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, batchstate.ReconcileReport{Scanned: 2, Kept: 2, Unresolved: []string{"ghost"}}, rep)
	require.Contains(t, b.rows(t, "created"), "ghost", "inside the grace period the row is kept")

	b.clock.Advance(2 * time.Minute)
	rep, err = b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, batchstate.ReconcileReport{Scanned: 2, RemovedDangling: 1, Kept: 1, Unresolved: []string{"ghost"}}, rep)
	require.Equal(t, map[string]int64{"live": 1}, b.rows(t, "created"))
}

func TestListHealsTerminalRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq)
	x := b.create(t, "x", "merging")
	_, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 1, Methods: []storagetest.Method{storagetest.RemoveMember}})
	require.NoError(t, err)
	_, err = b.o.Transition(ctx, x, "succeeded")
	require.NoError(t, err)
	require.Contains(t, b.rows(t, "merging"), "x", "the removal failed")
	require.Empty(t, b.ids(t, "merging"))
	require.Empty(t, b.rows(t, "merging"), "List removed the row of a terminal batch")
}

func TestReconcileCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq, batchstate.WithDanglingGrace(time.Minute))
	b.create(t, "live", "created")
	fin := b.create(t, "fin", "merging")
	_, err := b.o.Transition(ctx, fin, "failed")
	require.NoError(t, err)
	moving := b.create(t, "moving", "created")
	now := b.clock.Now()
	for _, m := range []storage.Member{
		{Queue: "q", State: "merging", BatchID: "fin", Version: 1, AddedAt: now},                     // terminal
		{Queue: "q", State: "speculating", BatchID: "moving", Version: 2, AddedAt: now},              // a transition in flight
		{Queue: "q", State: "cancelling", BatchID: "gone", Version: 1, AddedAt: now.Add(-time.Hour)}, // dangling, past grace
	} {
		require.NoError(t, b.store.AddMember(ctx, m))
	}
	rep, err := b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, batchstate.ReconcileReport{Scanned: 5, RemovedTerminal: 1, RemovedDangling: 1, Kept: 3, Unresolved: []string{"gone"}}, rep)
	require.Contains(t, b.rows(t, "speculating"), "moving", "a row newer than its batch belongs to a transition in flight")

	// The transition lands: the created row goes with it.
	moved, err := b.o.Transition(ctx, moving, "speculating")
	require.NoError(t, err)
	require.Equal(t, []string{"moving"}, b.ids(t, "speculating"))

	// A transition that crashes before its CAS leaves a row newer than its
	// batch; once older than the grace, Reconcile removes it.
	_, err = b.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 1, Methods: []storagetest.Method{storagetest.UpdateBatch}})
	require.NoError(t, err)
	_, err = b.o.Transition(ctx, moved, "cancelling")
	require.ErrorIs(t, err, storagetest.ErrInjected)
	require.Contains(t, b.rows(t, "cancelling"), "moving")
	rep, err = b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Zero(t, rep.RemovedStale, "inside the grace it may still be in flight")
	b.clock.Advance(2 * time.Minute)
	rep, err = b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, 1, rep.RemovedStale)
	require.Empty(t, b.rows(t, "cancelling"))
	require.Equal(t, map[string]int64{"moving": moved.Version}, b.rows(t, "speculating"))
}

// A batch cycling A → B → A while the removal of its old A row is delayed
// must keep its A row: the removal is conditional on the version.
func TestCyclicRaceDelayedRemoval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cyc := batchstate.Machine{States: []string{"a", "b"}, Transitions: map[string][]string{"a": {"b"}, "b": {"a"}}}
	b := setup(t, cyc)
	x := b.create(t, "x", "a")
	release := make(chan struct{})
	in, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.Block, Call: 1, Methods: []storagetest.Method{storagetest.RemoveMember}, Release: release})
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() { _, err := b.o.Transition(ctx, x, "b"); done <- err }() // its removal of (a, max 1) is held
	<-in.Reached()
	x2, err := b.store.GetBatch(ctx, "q", "x")
	require.NoError(t, err)
	require.Equal(t, "b", x2.State)
	x3, err := b.o.Transition(ctx, x2, "a") // back to a, version 3
	require.NoError(t, err)
	close(release)
	require.NoError(t, <-done)

	require.Equal(t, "a", x3.State)
	require.Equal(t, map[string]int64{"x": 3}, b.rows(t, "a"), "the delayed removal did not take the newer row")
	require.Equal(t, []string{"x"}, b.ids(t, "a"))
}

func TestStress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	workers, moves, n := 8, 500, 20
	if testing.Short() {
		moves = 100
	}
	cyc := batchstate.Machine{
		States:      []string{"a", "b", "c", "done"},
		Terminal:    []string{"done"},
		Transitions: map[string][]string{"a": {"b", "c"}, "b": {"a", "c"}, "c": {"a", "b", "done"}},
	}
	b := setup(t, cyc, batchstate.WithDanglingGrace(time.Minute))
	ids := []string{"pinned"}
	b.create(t, "pinned", "b")
	for i := range n {
		id := fmt.Sprintf("x%02d", i)
		ids = append(ids, id)
		b.create(t, id, "a")
	}
	stop := make(chan struct{})
	var reader errgroup.Group
	reader.Go(func() error {
		for listings := 0; ; listings++ {
			select {
			case <-stop:
				if listings == 0 {
					return errors.New("no listing made")
				}
				return nil
			default:
			}
			got, err := b.o.List(ctx, "q", "a", "b", "c")
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			for _, x := range got {
				if seen[x.ID] {
					return fmt.Errorf("%s listed twice", x.ID)
				}
				seen[x.ID] = true
			}
			if !seen["pinned"] {
				return fmt.Errorf("listing %d misses the pinned batch", listings)
			}
		}
	})
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range moves {
				id := ids[1+rng.IntN(n)]
				cur, err := b.store.GetBatch(ctx, "q", id)
				if err != nil {
					return err
				}
				next := cyc.Transitions[cur.State]
				if len(next) == 0 {
					continue // done
				}
				to := next[rng.IntN(len(next))]
				if to == "done" && rng.IntN(4) != 0 {
					continue // keep most batches cycling
				}
				if _, err := b.o.Transition(ctx, cur, to); err != nil && !errors.Is(err, storage.ErrConflict) {
					return err
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	close(stop)
	require.NoError(t, reader.Wait())

	require.NoError(t, storagetest.CheckListed(ctx, b.store, b.o.List, cyc, "q", ids))
	b.clock.Advance(2 * time.Minute)
	_, err := b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.NoError(t, storagetest.CheckIndexExact(ctx, b.store, cyc, "q", ids))
}

func TestMachineValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, field string
		m           batchstate.Machine
	}{
		{"no states", "machine.States", batchstate.Machine{}},
		{"empty state", "machine.States", batchstate.Machine{States: []string{"a", ""}}},
		{"oversized state", "machine.States", batchstate.Machine{States: []string{strings.Repeat("s", 256)}}},
		{"duplicate", "machine.States", batchstate.Machine{States: []string{"a", "a"}}},
		{"unknown terminal", "machine.Terminal", batchstate.Machine{States: []string{"a"}, Terminal: []string{"b"}}},
		{"unknown from", "machine.Transitions", batchstate.Machine{States: []string{"a"}, Transitions: map[string][]string{"b": {"a"}}}},
		{"unknown to", "machine.Transitions", batchstate.Machine{States: []string{"a"}, Transitions: map[string][]string{"a": {"b"}}}},
		{"out of terminal", "machine.Transitions", batchstate.Machine{States: []string{"a", "z"}, Terminal: []string{"z"}, Transitions: map[string][]string{"z": {"a"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.m.Validate()
			require.ErrorIs(t, err, storage.ErrInvalid)
			require.ErrorContains(t, err, c.field)
			_, err = batchstate.New(memory.New(), memory.New(), c.m)
			require.ErrorIs(t, err, storage.ErrInvalid)
		})
	}
	require.NoError(t, mq.Validate())
	require.True(t, mq.Allowed("created", "speculating"))
	require.False(t, mq.Allowed("created", "merging"))
	require.False(t, mq.Allowed("succeeded", "created"))
	require.Equal(t, []string{"created", "speculating", "merging", "cancelling"}, mq.NonTerminal())
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	s := memory.New()
	_, err := batchstate.New(s, s, mq, batchstate.WithDanglingGrace(-time.Second))
	require.ErrorIs(t, err, storage.ErrInvalid)
	_, err = batchstate.New(s, s, mq, batchstate.WithClock(nil))
	require.ErrorIs(t, err, storage.ErrInvalid)
	_, err = batchstate.New(nil, s, mq)
	require.ErrorIs(t, err, storage.ErrInvalid)
	_, err = batchstate.New(s, nil, mq)
	require.ErrorIs(t, err, storage.ErrInvalid)
}

// Every input error names the field and state and writes nothing.
func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := storage.Batch{Queue: "q", ID: "x", State: "created", Version: 1}
	term := storage.Batch{Queue: "q", ID: "x", State: "succeeded", Version: 1}
	for _, c := range []struct {
		name, want string
		call       func(o *batchstate.Orchestrator) error
	}{
		{"create unknown state", `"nope"`, func(o *batchstate.Orchestrator) error {
			_, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "nope"})
			return err
		}},
		{"create empty queue", "batch.Queue", func(o *batchstate.Orchestrator) error {
			_, err := o.Create(ctx, storage.Batch{ID: "x", State: "created"})
			return err
		}},
		{"create invalid UTF-8 id", "batch.ID", func(o *batchstate.Orchestrator) error {
			_, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "\xff", State: "created"})
			return err
		}},
		{"create oversized payload", "batch.Payload", func(o *batchstate.Orchestrator) error {
			_, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "created", Payload: make([]byte, storage.MaxPayloadBytes+1)})
			return err
		}},
		{"transition unknown target", `"nope"`, func(o *batchstate.Orchestrator) error {
			_, err := o.Transition(ctx, live, "nope")
			return err
		}},
		{"transition out of terminal", `"succeeded"`, func(o *batchstate.Orchestrator) error {
			_, err := o.Transition(ctx, term, "created")
			return err
		}},
		{"transition not allowed", `"created" → "merging"`, func(o *batchstate.Orchestrator) error {
			_, err := o.Transition(ctx, live, "merging")
			return err
		}},
		{"transition version 0", "batch.Version", func(o *batchstate.Orchestrator) error {
			_, err := o.Transition(ctx, storage.Batch{Queue: "q", ID: "x", State: "created"}, "speculating")
			return err
		}},
		{"list terminal", `"failed"`, func(o *batchstate.Orchestrator) error {
			_, err := o.List(ctx, "q", "created", "failed")
			return err
		}},
		{"list unknown", `"nope"`, func(o *batchstate.Orchestrator) error { _, err := o.List(ctx, "q", "nope"); return err }},
		{"list no state", "states", func(o *batchstate.Orchestrator) error { _, err := o.List(ctx, "q"); return err }},
		{"list oversized queue", "queue", func(o *batchstate.Orchestrator) error {
			_, err := o.List(ctx, strings.Repeat("q", 256), "created")
			return err
		}},
		{"reconcile empty queue", "queue", func(o *batchstate.Orchestrator) error { _, err := o.Reconcile(ctx, ""); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, mq)
			err := c.call(b.o)
			require.ErrorIs(t, err, storage.ErrInvalid)
			require.ErrorContains(t, err, c.want)
			require.Zero(t, b.fs.TotalCalls(), "no store call at all: %v", b.fs.Counts())
		})
	}
}

func TestCanceledContextCallsNothing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := setup(t, mq)
	_, err := b.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "created"})
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.o.Transition(ctx, storage.Batch{Queue: "q", ID: "x", State: "created", Version: 1}, "speculating")
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.o.List(ctx, "q", "created")
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.o.Reconcile(ctx, "q")
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, b.fs.TotalCalls())
}
