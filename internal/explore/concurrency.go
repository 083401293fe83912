package explore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// The areas of RunOrchestration that run many callers at once on one
// store and check what holds whatever the interleaving: Concurrency
// (cyclic moves under a reader, sibling drives, racing membership
// writes), Churn and Ownership. races.go forces chosen interleavings
// instead, one at a time.

// cyclicMachine cycles a → b → a with a side trip through c; nothing is
// terminal, so rows are re-added to buckets they were removed from.
var cyclicMachine = batchstate.Machine{
	States:   []string{"a", "b", "c", "gone"},
	Terminal: []string{"gone"},
	Transitions: map[string][]string{
		"a": {"b"},
		"b": {"a", "c"},
		"c": {"a"},
	},
}

// runConcurrency runs the concurrent areas: cyclic transitions under a
// continuous reader, concurrent sibling drives, and racing membership
// writes. Sizes shrink under -short.
func runConcurrency(t *testing.T, newStore func(t *testing.T) storage.Store, scale func(int) int) {
	// size is full, or short under -short.
	size := func(full, short int) int {
		if testing.Short() {
			return short
		}
		return full
	}
	t.Run("CyclicStress", func(t *testing.T) {
		t.Parallel()
		cyclicStress(t, newStore(t), size(8, 4), scale(size(60, 15)), size(12, 6))
	})
	t.Run("SiblingDrives", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		for r := range scale(size(50, 5)) {
			siblingDrives(t, store, r, 16)
		}
	})
	t.Run("MemberVersions", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		for range scale(size(10, 3)) {
			memberVersions(t, store, 16)
		}
	})
}

func cyclicStress(t *testing.T, store storage.Store, workers, moves, batches int) {
	ctx := context.Background()
	clock := newTestClock()
	o, err := batchstate.New(store, store, cyclicMachine, batchstate.WithClock(clock.Now), batchstate.WithDanglingGrace(crashGrace), batchstate.WithLogger(testLogger(t)))
	require.NoError(t, err)
	queue := UniqueID("cyclic")
	ids := []string{"pinned"}
	_, err = o.Create(ctx, storage.Batch{Queue: queue, ID: "pinned", State: "a"})
	require.NoError(t, err)
	for i := range batches {
		id := fmt.Sprintf("b%02d", i)
		ids = append(ids, id)
		_, err := o.Create(ctx, storage.Batch{Queue: queue, ID: id, State: "a"})
		require.NoError(t, err)
	}

	done := make(chan struct{})
	var readerErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		// The reader lists at least once, however fast the writers finish.
		for listings := 0; ; listings++ {
			if listings > 0 {
				select {
				case <-done:
					return
				default:
				}
			}
			got, err := o.List(ctx, queue, "a", "b", "c")
			if err != nil {
				readerErr = err
				return
			}
			// Nothing ever goes terminal here: every listing returns every
			// batch, each once, in the state it is stored in at some
			// moment of the listing (so one of the listed states).
			seen := make(map[string]bool, len(got))
			for _, b := range got {
				if seen[b.ID] {
					readerErr = fmt.Errorf("listing %d: %q listed twice", listings, b.ID)
					return
				}
				seen[b.ID] = true
				if b.Queue != queue || !slices.Contains([]string{"a", "b", "c"}, b.State) {
					readerErr = fmt.Errorf("listing %d: %q listed from queue %q in state %q", listings, b.ID, b.Queue, b.State)
					return
				}
			}
			var missing []string
			for _, id := range ids {
				if !seen[id] {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 || len(got) != len(ids) {
				readerErr = fmt.Errorf("listing %d: %d of %d batches listed, missing %q", listings, len(got), len(ids), missing)
				return
			}
		}
	})

	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range moves {
				if err := moveRandomly(ctx, store, o, cyclicMachine, queue, ids[1+rng.IntN(batches)], rng); err != nil {
					return err
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	close(done)
	wg.Wait()
	require.NoError(t, readerErr)

	list := func(ctx context.Context, queue string, states ...string) ([]storage.Batch, error) {
		return o.List(ctx, queue, states...)
	}
	require.NoError(t, CheckListed(ctx, store, list, cyclicMachine, queue, ids))
	clock.Advance(2 * crashGrace)
	_, err = o.Reconcile(ctx, queue)
	require.NoError(t, err)
	require.NoError(t, CheckIndexExact(ctx, store, cyclicMachine, queue, ids))
}

// siblingDrives drives n sibling operations of one apply concurrently to
// completion, every third failing under the continue policy, and checks
// the final state and that exactly one caller terminalized.
func siblingDrives(t *testing.T, store storage.Store, round, n int) {
	ctx := context.Background()
	clock := newTestClock()
	var terminalized sync.Map
	p, err := applystate.NewProjector(store, store, applystate.WithClock(clock.Now), applystate.WithLogger(testLogger(t)))
	require.NoError(t, err)
	applyID := UniqueID(fmt.Sprintf("siblings%d", round))
	now := clock.Now()
	_, err = store.CreateApply(ctx, storage.Apply{ID: applyID, State: string(applystate.Pending), CreatedAt: now, UpdatedAt: now})
	require.NoError(t, err)
	for i := range n {
		_, err := store.CreateOperation(ctx, storage.Operation{
			ApplyID: applyID, ID: fmt.Sprintf("op%02d", i), Seq: int64(i), Deployment: fmt.Sprintf("dep%02d", i),
			State: string(applystate.Pending), OnFailure: string(applystate.Continue), CreatedAt: now, UpdatedAt: now,
		})
		require.NoError(t, err)
	}
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			id := fmt.Sprintf("op%02d", i)
			final := applystate.Completed
			if i%3 == 0 {
				final = applystate.Failed
			}
			for _, s := range []applystate.State{applystate.Running, final} {
				for attempt := 0; ; attempt++ {
					r, err := p.Drive(ctx, applyID, []applystate.Task{{OperationID: id, State: s, ErrorMessage: "boom " + id}})
					if errors.Is(err, storage.ErrConflict) && attempt < 20 {
						continue // the projector gave up under contention; a caller retries
					}
					if err != nil {
						return fmt.Errorf("%s → %s: %w", id, s, err)
					}
					if r.Terminalized {
						terminalized.Store(id+"/"+string(s), true)
					}
					break
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	require.NoError(t, CheckApplyProjected(ctx, store, applyID), "round %d", round)
	a, err := store.GetApply(ctx, applyID)
	require.NoError(t, err)
	require.Equal(t, string(applystate.Failed), a.State, "round %d: every sibling settled and some failed under continue", round)
	count := 0
	terminalized.Range(func(_, _ any) bool { count++; return true })
	require.Equal(t, 1, count, "round %d: exactly one caller terminalizes", round)
}

// memberVersions races n AddMember calls with versions 1..n against
// RemoveMember calls that may only remove older rows; the row with the
// highest version must survive. An AddMember may lose to a newer row
// (ErrConflict), except the highest, which nothing can be newer than.
func memberVersions(t *testing.T, store storage.Store, n int) {
	ctx := context.Background()
	queue := UniqueID("members")
	now := newTestClock().Now()
	var g errgroup.Group
	for v := 1; v <= n; v++ {
		g.Go(func() error {
			err := store.AddMember(ctx, storage.Member{Queue: queue, State: "s", BatchID: "x", Version: int64(v), AddedAt: now})
			if v < n && errors.Is(err, storage.ErrConflict) {
				return nil
			}
			return err
		})
		g.Go(func() error {
			return store.RemoveMember(ctx, queue, "s", "x", int64(v-1))
		})
	}
	require.NoError(t, g.Wait())
	rows, err := store.ListMembers(ctx, queue, "s")
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, int64(n), rows[0].Version)
}

// runChurn cycles batches through three states with several workers while
// a reader lists all three and a janitor reconciles: every batch is in a
// listed state at every instant, so every List that answers must return
// every batch. It runs until the reader has listed lists times, and the
// workers moved as many times and the janitor reconciled twice.
func runChurn(t *testing.T, store storage.Store, lists int) {
	ctx := context.Background()
	m := batchstate.Machine{
		States:      []string{"a", "b", "c"},
		Transitions: map[string][]string{"a": {"b", "c"}, "b": {"a", "c"}, "c": {"a", "b"}},
	}
	// A real clock: the workers read a fake one too often for the lease's
	// half-life to mean anything.
	o, err := batchstate.New(store, store, m, batchstate.WithDanglingGrace(crashGrace), batchstate.WithLogger(testLogger(t)))
	require.NoError(t, err)
	queue := UniqueID("churn")
	const batches, workers = 40, 4
	ids := make([]string, batches)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%02d", i)
		_, err := o.Create(ctx, storage.Batch{Queue: queue, ID: ids[i], State: m.States[i%3]})
		require.NoError(t, err)
	}
	var stop atomic.Bool
	var listed, refused, moves, reconciles atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer stop.Store(true)
		// Lists keep coming until there were lists of them, and as many
		// moves and two Reconciles beside them: a List can be faster than
		// any move (a store that reads a queue in one snapshot).
		for listed.Load() < int64(lists) || moves.Load() < int64(lists) || reconciles.Load() < 2 {
			got, err := o.List(gctx, queue, "a", "b", "c")
			if errors.Is(err, storage.ErrConflict) {
				refused.Add(1) // every attempt overlapped a Reconcile: no answer, no promise
				continue
			}
			if err != nil {
				return err
			}
			if gotIDs := BatchIDs(got); !slices.Equal(sortedCopy(gotIDs), ids) {
				return fmt.Errorf("list %d missed or repeated batches: got %d %v", listed.Load(), len(gotIDs), gotIDs)
			}
			listed.Add(1)
		}
		return nil
	})
	for w := range workers {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for !stop.Load() {
				if err := moveRandomly(gctx, store, o, m, queue, ids[rng.IntN(batches)], rng); err != nil {
					return err
				}
				moves.Add(1)
				time.Sleep(200 * time.Microsecond) // leave the reader its share of a small machine
			}
			return nil
		})
	}
	g.Go(func() error {
		for !stop.Load() {
			if _, err := o.Reconcile(gctx, queue); err != nil {
				return err
			}
			reconciles.Add(1)
			time.Sleep(200 * time.Millisecond) // a janitor far busier than any real one
		}
		return nil
	})
	require.NoError(t, g.Wait())
	t.Logf("churn: %d lists, 0 missed, %d refused while a Reconcile removed rows, %d moves, %d reconciles",
		listed.Load(), refused.Load(), moves.Load(), reconciles.Load())
	require.Positive(t, moves.Load())
	require.Positive(t, reconciles.Load())
}

// moveRandomly reads batch id and moves it to one of the states m allows,
// at random; losing a race is fine.
func moveRandomly(ctx context.Context, store storage.Store, o *batchstate.Orchestrator, m batchstate.Machine, queue, id string, rng *rand.Rand) error {
	b, err := store.GetBatch(ctx, queue, id)
	if err != nil {
		return err
	}
	next := m.Transitions[b.State]
	_, err = o.Transition(ctx, b, next[rng.IntN(len(next))])
	if err != nil && !errors.Is(err, storage.ErrConflict) {
		return err
	}
	return nil
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// ownLease is the time to live of the Ownership loops' leases, in the
// suite's virtual time; a killed loop's lease lapses when the clock is
// moved on by twice as much.
const ownLease = time.Hour

// runOwnership drives one rollout with 2, 4 and 8 drive loops per
// deployment, each loop acquiring its deployment's operation (retrying on
// ErrOwned), renewing, and driving pending → running → completed under its
// lease. Each deployment's loop that is told Proceed starts the work and is
// killed holding its lease; once the virtual clock is past its lease,
// another loop takes over and is told Resume. One Proceed and one start
// per operation, Resume for every taker, every write under a stale lease
// refused, exactly one Terminalized, the apply completed.
func runOwnership(t *testing.T, newStore func(t *testing.T) storage.Store) {
	for _, loops := range []int{2, 4, 8} {
		t.Run(fmt.Sprintf("loops=%d", loops), func(t *testing.T) {
			t.Parallel()
			ownedRollout(t, newStore(t), loops, 3)
		})
	}
}

// tool is the deployment as the tool that runs its change shows it. It
// fences its side effects by lease token: a call with a token below the
// largest it has seen is refused. A start is accepted at once but shows as
// pending until the next observation: the window in which a drive loop
// that dies leaves work running that still reads as not started.
type tool struct {
	mu        sync.Mutex
	id        string
	state     applystate.State
	requested bool
	fence     int64
	starts    int // starts the tool accepted
	grants    int // Proceed answered to a pending report
	resumes   int // Resume answered
	refused   int // calls of the tool or writes of the store refused to a stale owner
	dead      *applystate.Lease
	clock     *Clock // the virtual clock of the deployment's loops
}

// observe returns what the tool shows to the holder of token, or false
// when the token is stale.
func (d *tool) observe(token int64) (applystate.State, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if token < d.fence {
		d.refused++
		return "", false
	}
	d.fence = token
	s := d.state
	if d.requested && d.state == applystate.Pending {
		d.state = applystate.Running // the work began since the start
	}
	return s, true
}

// act runs f under token, unless the token is stale.
func (d *tool) act(token int64, f func()) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if token < d.fence {
		d.refused++
		return false
	}
	d.fence = token
	f()
	return true
}

func ownedRollout(t *testing.T, store storage.Store, loops, deployments int) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	p0, err := applystate.NewProjector(store, store, applystate.WithClock(newTestClock().Now), applystate.WithLogger(testLogger(t)))
	require.NoError(t, err)
	plan := applystate.Plan{Apply: storage.Apply{ID: UniqueID(fmt.Sprintf("owned%d", loops))}}
	tools := make([]*tool, deployments)
	for i := range deployments {
		id := fmt.Sprintf("op%d", i)
		plan.Operations = append(plan.Operations, storage.Operation{ID: id, Seq: int64(i), Deployment: fmt.Sprintf("dep%d", i)})
		// Each deployment's loops share a clock, so that a kill moves
		// only that deployment's leases past their time; the clocks read
		// distinct microseconds (i µs past a millisecond), so that no two
		// projectors stamp the apply alike.
		tools[i] = &tool{id: id, state: applystate.Pending, clock: NewClock(base.Add(time.Duration(i+1)*time.Microsecond), time.Millisecond)}
	}
	_, _, err = p0.CreatePlan(ctx, plan)
	require.NoError(t, err)

	var terminalized atomic.Int32
	kills := make(chan *tool, deployments)
	g, gctx := errgroup.WithContext(ctx)
	for _, d := range tools {
		for i := range loops {
			g.Go(func() error {
				o := &ownLoop{store: store, applyID: plan.Apply.ID, d: d, owner: fmt.Sprintf("%s-loop%d", d.id, i), kills: kills, terminalized: &terminalized}
				if err := o.run(gctx); err != nil {
					return fmt.Errorf("%s: %w", o.owner, err)
				}
				return nil
			})
		}
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	// Each kill leaves a lease held by a dead loop: move its deployment's
	// clock past it.
	for err = nil; ; {
		select {
		case d := <-kills:
			d.clock.Advance(2 * ownLease)
			continue
		case err = <-done:
		}
		break
	}
	require.NoError(t, err)

	a, err := store.GetApply(ctx, plan.Apply.ID)
	require.NoError(t, err)
	require.Equal(t, string(applystate.Completed), a.State)
	require.Equal(t, int32(1), terminalized.Load(), "exactly one caller sees Terminalized")
	require.NoError(t, CheckApplyProjected(ctx, store, plan.Apply.ID))
	for _, d := range tools {
		t.Logf("%s: %d Proceed, %d start, %d Resume, %d stale calls refused", d.id, d.grants, d.starts, d.resumes, d.refused)
	}
	for _, d := range tools {
		require.Equal(t, 1, d.grants, "%s: one Proceed per operation", d.id)
		require.Equal(t, 1, d.starts, "%s: one start per operation", d.id)
		require.NotNil(t, d.dead, "%s: its owner was killed after Proceed", d.id)
		require.GreaterOrEqual(t, d.resumes, 1, "%s: the taker is told Resume", d.id)
		require.GreaterOrEqual(t, d.refused, 5, "%s: the dead owner's writes are refused", d.id)
		require.Equal(t, applystate.Completed, d.state, d.id)
	}
}

// ownLoop is one drive loop of one deployment, a replica with its own
// Projector.
type ownLoop struct {
	store        storage.Store
	applyID      string
	d            *tool
	owner        string
	kills        chan<- *tool
	terminalized *atomic.Int32
}

func (o *ownLoop) run(ctx context.Context) error {
	p, err := applystate.NewProjector(o.store, o.store, applystate.WithClock(o.d.clock.Now))
	if err != nil {
		return err
	}
	var lease *applystate.Lease
	pause := func() { time.Sleep(2 * time.Millisecond) }
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if lease == nil {
			l, err := p.Acquire(ctx, o.applyID, o.d.id, o.owner, ownLease)
			if errors.Is(err, applystate.ErrOwned) || errors.Is(err, storage.ErrConflict) {
				pause()
				continue
			}
			if err != nil {
				return fmt.Errorf("acquire: %w", err)
			}
			lease = &l
		} else {
			l, err := p.Renew(ctx, *lease, ownLease)
			if retryUnderLease(err, &lease) {
				continue
			}
			if err != nil {
				return fmt.Errorf("renew: %w", err)
			}
			lease = &l
		}
		seen, ok := o.d.observe(lease.Token)
		if !ok {
			lease = nil // taken over: the tool has seen a larger token
			continue
		}
		res, err := p.Drive(ctx, o.applyID, []applystate.Task{{OperationID: o.d.id, State: seen}}, applystate.WithLease(*lease))
		if retryUnderLease(err, &lease) {
			continue
		}
		if err != nil {
			return fmt.Errorf("drive %s: %w", seen, err)
		}
		if res.Terminalized {
			o.terminalized.Add(1)
		}
		if applystate.Normalize(res.Apply.State).Terminal() || (res.Next == applystate.DoNotStart && seen == applystate.Completed) {
			// Done: hand the operation over (a lease lost meanwhile is
			// no error).
			if err := p.Release(ctx, *lease); err != nil && !errors.Is(err, applystate.ErrNotOwner) {
				return fmt.Errorf("release: %w", err)
			}
			return nil
		}
		switch res.Next {
		case applystate.Proceed:
			switch seen {
			case applystate.Pending:
				l := *lease
				o.d.mu.Lock()
				o.d.grants++
				o.d.mu.Unlock()
				if !o.d.act(l.Token, func() { o.d.starts++; o.d.requested = true; o.d.dead = &l }) {
					lease = nil // taken over meanwhile: the taker resumes
					continue
				}
				// Killed after starting the work, still holding the lease.
				o.kills <- o.d
				return nil
			case applystate.Running:
				o.d.act(lease.Token, func() { o.d.state = applystate.Completed })
			}
		case applystate.Resume:
			o.d.act(lease.Token, func() {
				o.d.resumes++
				if !o.d.requested {
					// The earlier owner was granted the start but the
					// tool has no trace of it: start it, under this
					// token (the tool fences older ones).
					o.d.starts++
					o.d.requested = true
				}
			})
			if err := o.staleWrites(ctx, p, *lease); err != nil {
				return err
			}
		case applystate.Wait:
			pause()
		default:
			return fmt.Errorf("%s on an open apply after reporting %s", res.Next, seen)
		}
	}
}

// staleWrites checks, once the taker holding l was told Resume, that every
// write of the dead owner is refused: its Drive of each state, its renewal
// and its release are ErrNotOwner and the row is unchanged.
func (o *ownLoop) staleWrites(ctx context.Context, p *applystate.Projector, l applystate.Lease) error {
	o.d.mu.Lock()
	dead := o.d.dead
	o.d.mu.Unlock()
	if dead == nil || dead.Token >= l.Token {
		return fmt.Errorf("told Resume with token %d without a dead owner before it", l.Token)
	}
	before, err := o.store.GetOperation(ctx, o.applyID, o.d.id)
	if err != nil {
		return err
	}
	refuse := func(what string, err error) error {
		if !errors.Is(err, applystate.ErrNotOwner) {
			return fmt.Errorf("the dead owner's %s (token %d, row token %d): want ErrNotOwner, got %v", what, dead.Token, before.OwnerToken, err)
		}
		o.d.mu.Lock()
		o.d.refused++
		o.d.mu.Unlock()
		return nil
	}
	for _, s := range []applystate.State{applystate.Pending, applystate.Running, applystate.Completed} {
		_, err := p.Drive(ctx, o.applyID, []applystate.Task{{OperationID: o.d.id, State: s}}, applystate.WithLease(*dead))
		if err := refuse("Drive "+string(s), err); err != nil {
			return err
		}
	}
	_, err = p.Renew(ctx, *dead, ownLease)
	if err := refuse("Renew", err); err != nil {
		return err
	}
	if err := refuse("Release", p.Release(ctx, *dead)); err != nil {
		return err
	}
	after, err := o.store.GetOperation(ctx, o.applyID, o.d.id)
	if err != nil {
		return err
	}
	if after.OwnerToken == before.OwnerToken && after.Version != before.Version {
		return fmt.Errorf("the dead owner's refused writes changed the row: %+v, then %+v", before, after)
	}
	return nil
}

// retryUnderLease reports whether err, from a call made under *lease,
// calls for another round: the lease is gone (ErrNotOwner, which clears
// *lease) or the call lost a race (ErrConflict).
func retryUnderLease(err error, lease **applystate.Lease) bool {
	switch {
	case errors.Is(err, applystate.ErrNotOwner):
		*lease = nil
		return true
	case errors.Is(err, storage.ErrConflict):
		return true
	}
	return false
}
