package explore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
)

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
