package applystate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

const ttl = time.Minute

// owned is setup with a clock the test can move: the bundle's projector
// and the clock it reads.
func owned(t *testing.T, ops []op) (*bundle, *clock) {
	t.Helper()
	b := setup(t, ops)
	c := newClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	b.p = newProjector(t, b.fs, b.fs, applystate.WithClock(c.Now))
	return b, c
}

// replica is another drive loop's projector over b's store, on clock c.
func (b *bundle) replica(c *clock) *applystate.Projector {
	return newProjector(b.t, b.fs, b.fs, applystate.WithClock(c.Now))
}

func (b *bundle) acquire(t *testing.T, p *applystate.Projector, id, owner string) applystate.Lease {
	t.Helper()
	l, err := p.Acquire(b.ctx, "a", id, owner, ttl)
	require.NoError(t, err)
	return l
}

func (b *bundle) driveAs(p *applystate.Projector, l applystate.Lease, s S) (applystate.Result, error) {
	return p.Drive(b.ctx, "a", []applystate.Task{{OperationID: l.OperationID, State: s}}, applystate.WithLease(l))
}

// holdCall is hold for any call: it blocks the k-th next call of m and runs
// call until that call is reached, and returns the function that releases
// it and waits for the result.
func holdCall[T any](t *testing.T, b *bundle, m storagetest.Method, k int, call func() (T, error)) func() (T, error) {
	t.Helper()
	release := make(chan struct{})
	in, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.Block, Call: k, Release: release, Methods: []storagetest.Method{m}})
	require.NoError(t, err)
	type out struct {
		v   T
		err error
	}
	done := make(chan out, 1)
	go func() {
		v, err := call()
		done <- out{v, err}
	}()
	select {
	case <-in.Reached():
	case o := <-done:
		close(release)
		require.Failf(t, "the held call was never reached", "result %+v, err %v", o.v, o.err)
	}
	return func() (T, error) {
		close(release)
		o := <-done
		return o.v, o.err
	}
}

func TestAcquireRenewRelease(t *testing.T) {
	t.Parallel()
	b, c := owned(t, []op{{"x", ""}})
	before := b.op(t, "x")
	l := b.acquire(t, b.p, "x", "loop-1")
	require.Equal(t, applystate.Lease{ApplyID: "a", OperationID: "x", Owner: "loop-1", Token: 1, Until: l.Until}, l)
	row := b.op(t, "x")
	require.Equal(t, "loop-1", row.Owner)
	require.Equal(t, int64(1), row.OwnerToken)
	require.True(t, row.OwnerUntil.Equal(l.Until))
	require.Equal(t, before.Projected, row.Projected, "ownership is no projection: Projected is kept")
	require.Equal(t, before.State, row.State)

	// Renewal: one read and one conditional write; the token stays.
	c.Advance(30 * time.Second)
	b.fs.ResetCounts()
	r, err := b.p.Renew(b.ctx, l, ttl)
	require.NoError(t, err)
	require.Equal(t, map[storagetest.Method]int{storagetest.GetOperation: 1, storagetest.UpdateOperation: 1}, b.fs.Counts())
	require.Equal(t, l.Token, r.Token)
	require.True(t, r.Until.After(l.Until))
	require.True(t, b.op(t, "x").OwnerUntil.Equal(r.Until))

	// The same owner acquiring again gets a larger token; the old lease is
	// then stale.
	l2 := b.acquire(t, b.p, "x", "loop-1")
	require.Equal(t, int64(2), l2.Token)
	_, err = b.p.Renew(b.ctx, r, ttl)
	require.ErrorIs(t, err, applystate.ErrNotOwner)
	require.ErrorIs(t, b.p.Release(b.ctx, r), applystate.ErrNotOwner)

	// Release ends the lease at once: another owner acquires without
	// waiting, with a larger token.
	require.NoError(t, b.p.Release(b.ctx, l2))
	row = b.op(t, "x")
	require.True(t, row.OwnerUntil.IsZero())
	require.Equal(t, int64(2), row.OwnerToken, "the token stays")
	l3 := b.acquire(t, b.p, "x", "loop-2")
	require.Equal(t, int64(3), l3.Token)
}

// A live lease keeps other owners out (nothing written); once it lapses,
// another owner takes over with a larger token and the old lease is stale.
func TestSecondOwnerWaitsThenTakesOver(t *testing.T) {
	t.Parallel()
	b, c := owned(t, []op{{"x", ""}})
	l1 := b.acquire(t, b.p, "x", "loop-1")
	other := b.replica(c)
	before := b.op(t, "x")
	b.fs.ResetCounts()
	_, err := other.Acquire(b.ctx, "a", "x", "loop-2", ttl)
	require.ErrorIs(t, err, applystate.ErrOwned)
	require.Zero(t, b.fs.Writes(), "ErrOwned writes nothing")
	require.Equal(t, before, b.op(t, "x"))

	c.Advance(ttl)
	l2, err := other.Acquire(b.ctx, "a", "x", "loop-2", ttl)
	require.NoError(t, err)
	require.Greater(t, l2.Token, l1.Token)
	require.False(t, l2.Resume, "nothing had started")
	_, err = b.p.Renew(b.ctx, l1, ttl)
	require.ErrorIs(t, err, applystate.ErrNotOwner)
	_, err = b.p.Acquire(b.ctx, "a", "x", "loop-1", ttl)
	require.ErrorIs(t, err, applystate.ErrOwned, "loop-2's lease is live now")
}

// An expired lease nobody took over is still held: the clock only decides
// when a takeover may happen.
func TestExpiredLeaseStillRenews(t *testing.T) {
	t.Parallel()
	b, c := owned(t, []op{{"x", ""}})
	l := b.acquire(t, b.p, "x", "loop-1")
	c.Advance(10 * ttl)
	r, err := b.p.Renew(b.ctx, l, ttl)
	require.NoError(t, err)
	require.Equal(t, l.Token, r.Token)
}

// A renewal that meets an unrelated write of the row (here a Stop moving
// the pending row to stopped) reads the row again and renews.
func TestRenewRetriesAfterAnUnrelatedWrite(t *testing.T) {
	t.Parallel()
	b, _ := owned(t, []op{{"x", ""}, {"y", ""}})
	l := b.acquire(t, b.p, "x", "loop-1")
	resume := holdCall(t, b, storagetest.UpdateOperation, 1, func() (applystate.Lease, error) { return b.p.Renew(b.ctx, l, 2*ttl) })
	_, err := b.store.UpdateOperation(b.ctx, func() storage.Operation { o := b.op(t, "x"); o.Deployment = "moved"; return o }(), b.op(t, "x").Version)
	require.NoError(t, err)
	r, err := resume()
	require.NoError(t, err)
	row := b.op(t, "x")
	require.True(t, row.OwnerUntil.Equal(r.Until))
	require.Equal(t, "moved", row.Deployment, "the unrelated write is kept")
}

// Two owners acquiring at once from the same read: one compare-and-swap
// lands, the other reads again and finds the winner's lease live.
func TestConcurrentAcquiresHaveOneWinner(t *testing.T) {
	t.Parallel()
	b, c := owned(t, []op{{"x", ""}})
	other := b.replica(c)
	resume := holdCall(t, b, storagetest.UpdateOperation, 1, func() (applystate.Lease, error) {
		return b.p.Acquire(b.ctx, "a", "x", "loop-1", ttl)
	})
	l2, err := other.Acquire(b.ctx, "a", "x", "loop-2", ttl)
	require.NoError(t, err)
	_, err = resume()
	require.ErrorIs(t, err, applystate.ErrOwned)
	require.Equal(t, int64(1), l2.Token)
	require.Equal(t, "loop-2", b.op(t, "x").Owner)
}

// A lost response on the acquisition is read back: the row holds this
// owner and token, so the lease is the caller's.
func TestAcquireLostResponseIsReadBack(t *testing.T) {
	t.Parallel()
	b, _ := owned(t, []op{{"x", ""}})
	_, err := b.fs.Inject(storagetest.Fault{Mode: storagetest.FailAfter, Call: 1, Methods: []storagetest.Method{storagetest.UpdateOperation}, Err: storage.ErrUnavailable})
	require.NoError(t, err)
	l, err := b.p.Acquire(b.ctx, "a", "x", "loop-1", ttl)
	require.NoError(t, err)
	require.Equal(t, int64(1), l.Token)

	// Renew likewise.
	_, err = b.fs.Inject(storagetest.Fault{Mode: storagetest.FailAfter, Call: 1, Methods: []storagetest.Method{storagetest.UpdateOperation}, Err: storage.ErrUnavailable})
	require.NoError(t, err)
	r, err := b.p.Renew(b.ctx, l, 2*ttl)
	require.NoError(t, err)
	require.True(t, b.op(t, "x").OwnerUntil.Equal(r.Until))
	l = r

	// A write that did not land (read back at the version read) is
	// ambiguous, never success.
	_, err = b.fs.Inject(storagetest.Fault{Mode: storagetest.FailBefore, Call: 1, Methods: []storagetest.Method{storagetest.UpdateOperation}, Err: storage.ErrUnavailable})
	require.NoError(t, err)
	_, err = b.p.Renew(b.ctx, l, ttl)
	require.ErrorIs(t, err, storage.ErrAmbiguous)
	require.ErrorIs(t, err, storage.ErrUnavailable)
}

func TestOwnershipBadInput(t *testing.T) {
	t.Parallel()
	b, _ := owned(t, []op{{"x", ""}})
	good := b.acquire(t, b.p, "x", "loop-1")
	b.fs.ResetCounts()
	for name, call := range map[string]func() error{
		"owner":   func() error { _, err := b.p.Acquire(b.ctx, "a", "x", "", ttl); return err },
		"ttl":     func() error { _, err := b.p.Acquire(b.ctx, "a", "x", "loop-1", 0); return err },
		"applyID": func() error { _, err := b.p.Acquire(b.ctx, "", "x", "loop-1", ttl); return err },
		"opID":    func() error { _, err := b.p.Acquire(b.ctx, "a", "", "loop-1", ttl); return err },
		"lease.Owner": func() error {
			l := good
			l.Owner = ""
			_, err := b.p.Renew(b.ctx, l, ttl)
			return err
		},
		"renew ttl": func() error { _, err := b.p.Renew(b.ctx, good, -time.Second); return err },
		"lease.ApplyID": func() error {
			_, err := b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "x", State: ru}}, applystate.WithLease(applystate.Lease{ApplyID: "b", OperationID: "x", Owner: "loop-1", Token: 1}))
			return err
		},
		"lease.OperationID": func() error {
			_, err := b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "x", State: ru}}, applystate.WithLease(applystate.Lease{ApplyID: "a", OperationID: "y", Owner: "loop-1", Token: 1}))
			return err
		},
		"lease without an operation": func() error {
			_, err := b.p.Drive(b.ctx, "a", []applystate.Task{{State: ru}}, applystate.WithLease(good))
			return err
		},
	} {
		err := call()
		require.ErrorIs(t, err, storage.ErrInvalid, name)
		var fe *storage.FieldError
		require.ErrorAs(t, err, &fe, name)
	}
	require.Zero(t, b.fs.Writes(), "bad input writes nothing")
	_, err := b.p.Acquire(b.ctx, "a", "nope", "loop-1", ttl)
	require.ErrorIs(t, err, storage.ErrNotFound)
}

// takeover lets l's lease lapse and has loop-2, on another projector, take
// the operation over.
func (b *bundle) takeover(t *testing.T, c *clock, l applystate.Lease) (*applystate.Projector, applystate.Lease) {
	t.Helper()
	c.Advance(ttl)
	p2 := b.replica(c)
	l2, err := p2.Acquire(b.ctx, "a", l.OperationID, "loop-2", ttl)
	require.NoError(t, err)
	require.Greater(t, l2.Token, l.Token)
	return p2, l2
}

// A stale owner's Drive is paused after it read the row holding its token,
// and before its write, while another loop takes the operation over; when
// it resumes, its compare-and-swap loses, the row read again holds another
// token, and Drive returns ErrNotOwner: the row and the apply are as the
// takeover left them. One case per write of Drive: the report, the claim
// and the acknowledgement (of a report and of a claim).
func TestStaleOwnerWritesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		prior  S // reported (by loop-1, under its lease) before the held Drive
		report S
		call   int // the UpdateOperation held: 1 the row write, 2 the acknowledgement
	}{
		{"report", ru, cp, 1},
		{"report from pending", "", ru, 1},
		{"claim", "", pe, 1},
		{"acknowledgement", "", ru, 2},
		{"acknowledgement of a claim", "", pe, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, c := owned(t, []op{{"x", ""}, {"y", ""}})
			l1 := b.acquire(t, b.p, "x", "loop-1")
			if tc.prior != "" {
				_, err := b.driveAs(b.p, l1, tc.prior)
				require.NoError(t, err)
			}
			resume := holdCall(t, b, storagetest.UpdateOperation, tc.call, func() (applystate.Result, error) {
				return b.driveAs(b.p, l1, tc.report)
			})
			_, l2 := b.takeover(t, c, l1)
			row, apply := b.op(t, "x"), b.apply(t)
			res, err := resume()
			require.ErrorIs(t, err, applystate.ErrNotOwner, "result %+v", res)
			require.NotEqual(t, applystate.Proceed, res.Next)
			require.Equal(t, row, b.op(t, "x"), "the stale owner's write never lands")
			require.Equal(t, apply, b.apply(t))
			require.Equal(t, l2.Token, b.op(t, "x").OwnerToken)
		})
	}
}

// A takeover of a granted start is told Resume, never a second Proceed;
// a started state reported under the new lease carries on (Proceed). The
// stale owner's polls are refused.
func TestTakeoverOfAGrantedStartResumes(t *testing.T) {
	t.Parallel()
	b, c := owned(t, []op{{"x", ""}, {"y", ""}})
	l1 := b.acquire(t, b.p, "x", "loop-1")
	r, err := b.driveAs(b.p, l1, pe)
	require.NoError(t, err)
	require.Equal(t, applystate.Proceed, r.Next, "the start is granted")
	// loop-1 dies after starting the work; loop-2 takes over.
	p2, l2 := b.takeover(t, c, l1)
	require.True(t, l2.Resume)
	before := b.op(t, "x")
	r, err = b.driveAs(p2, l2, pe)
	require.NoError(t, err)
	require.Equal(t, applystate.Resume, r.Next, "the work may be running: never a second Proceed")
	require.Equal(t, "resume", r.Next.String())
	require.Equal(t, before, b.op(t, "x"), "a pending report on a granted start writes nothing")
	_, err = b.driveAs(b.p, l1, pe)
	require.ErrorIs(t, err, applystate.ErrNotOwner)
	r, err = b.driveAs(p2, l2, ru)
	require.NoError(t, err)
	require.Equal(t, applystate.Proceed, r.Next, "carry on")
	r, err = b.driveAs(p2, l2, pe)
	require.NoError(t, err)
	require.Equal(t, applystate.Resume, r.Next, "a late pending report on started work")
}

// A takeover of a running operation resumes too; a takeover of a claim
// that was never granted (its owner died between the claim and the
// acknowledgement) is no resumption: the new owner is told Proceed, and
// that is the only Proceed.
func TestTakeoverOfAnUngrantedClaimProceeds(t *testing.T) {
	t.Parallel()
	b, c := owned(t, []op{{"x", ""}, {"y", ""}})
	l1 := b.acquire(t, b.p, "x", "loop-1")
	resume := holdCall(t, b, storagetest.UpdateOperation, 2, func() (applystate.Result, error) { return b.driveAs(b.p, l1, pe) })
	p2, l2 := b.takeover(t, c, l1)
	require.False(t, l2.Resume, "the claim was not granted")
	r1, err := resume()
	require.ErrorIs(t, err, applystate.ErrNotOwner)
	require.NotEqual(t, applystate.Proceed, r1.Next)
	r, err := b.driveAs(p2, l2, pe)
	require.NoError(t, err)
	require.Equal(t, applystate.Proceed, r.Next)

	b2, c2 := owned(t, []op{{"x", ""}})
	m1 := b2.acquire(t, b2.p, "x", "loop-1")
	_, err = b2.driveAs(b2.p, m1, ru)
	require.NoError(t, err)
	p3, m2 := b2.takeover(t, c2, m1)
	require.True(t, m2.Resume)
	r, err = b2.driveAs(p3, m2, pe)
	require.NoError(t, err)
	require.Equal(t, applystate.Resume, r.Next)
}

// Once an operation was acquired, a Drive without a lease is ErrNotOwner
// and writes nothing; an operation never acquired is driven without one.
func TestLeaselessDriveOnAnAcquiredOperation(t *testing.T) {
	t.Parallel()
	b, _ := owned(t, []op{{"x", ""}, {"y", ""}})
	b.drive(t, "y", ru) // never acquired: as before
	b.acquire(t, b.p, "x", "loop-1")
	row, apply := b.op(t, "x"), b.apply(t)
	b.fs.ResetCounts()
	for _, s := range []S{pe, ru, cp} {
		_, err := b.p.Drive(b.ctx, "a", []applystate.Task{{OperationID: "x", State: s}})
		require.ErrorIs(t, err, applystate.ErrNotOwner)
	}
	require.Zero(t, b.fs.Writes())
	require.Equal(t, row, b.op(t, "x"))
	require.Equal(t, apply, b.apply(t))
}

// An owner whose lease lapsed but that nobody took over still writes: the
// clock decides only when a takeover may happen.
func TestExpiredLeaseNotTakenOverStillDrives(t *testing.T) {
	t.Parallel()
	b, c := owned(t, []op{{"x", ""}})
	l := b.acquire(t, b.p, "x", "loop-1")
	c.Advance(10 * ttl)
	r, err := b.driveAs(b.p, l, pe)
	require.NoError(t, err)
	require.Equal(t, applystate.Proceed, r.Next)
	r, err = b.driveAs(b.p, l, cp)
	require.NoError(t, err)
	require.True(t, r.Terminalized)
}

// Stop, ReleasePause and Reproject need no lease, and keep the owner
// fields of every row they rewrite.
func TestOperatorCallsKeepOwnership(t *testing.T) {
	t.Parallel()
	b, _ := owned(t, []op{{"x", applystate.Pause}, {"y", ""}, {"z", ""}})
	lx := b.acquire(t, b.p, "x", "loop-x")
	ly := b.acquire(t, b.p, "y", "loop-y")
	lz := b.acquire(t, b.p, "z", "loop-z")
	_, err := b.driveAs(b.p, lx, fa)
	require.NoError(t, err)
	_, err = b.p.ReleasePause(b.ctx, "a")
	require.NoError(t, err)
	_, err = b.p.Reproject(b.ctx, "a")
	require.NoError(t, err)
	_, err = b.p.Stop(b.ctx, "a")
	require.NoError(t, err)
	for _, l := range []applystate.Lease{lx, ly, lz} {
		row := b.op(t, l.OperationID)
		require.Equal(t, l.Owner, row.Owner)
		require.Equal(t, l.Token, row.OwnerToken)
		require.True(t, row.OwnerUntil.Equal(l.Until))
	}
	require.Equal(t, string(applystate.Stopped), b.op(t, "y").State)
	require.False(t, b.op(t, "x").ReleasedAt.IsZero())
}

// A no-change poll under a lease is still two point reads.
func TestLeasedPollIsTwoReads(t *testing.T) {
	t.Parallel()
	b, _ := owned(t, []op{{"x", ""}, {"y", ""}})
	l := b.acquire(t, b.p, "x", "loop-1")
	_, err := b.driveAs(b.p, l, ru)
	require.NoError(t, err)
	b.fs.ResetCounts()
	r, err := b.driveAs(b.p, l, ru)
	require.NoError(t, err)
	require.Equal(t, applystate.Proceed, r.Next)
	require.Equal(t, map[storagetest.Method]int{storagetest.GetOperation: 1, storagetest.GetApply: 1}, b.fs.Counts())
}

// A write of the row that is no acquisition (here another field rewritten
// between the leased Drive's read and its claim) is a plain conflict: the
// Drive reads the row again, still holds it, and goes on.
func TestLeasedDriveRetriesAfterAnUnrelatedWrite(t *testing.T) {
	t.Parallel()
	b, _ := owned(t, []op{{"x", ""}, {"y", ""}})
	l := b.acquire(t, b.p, "x", "loop-1")
	resume := holdCall(t, b, storagetest.UpdateOperation, 1, func() (applystate.Result, error) { return b.driveAs(b.p, l, pe) })
	row := b.op(t, "x")
	row.Deployment = "moved"
	_, err := b.store.UpdateOperation(b.ctx, row, row.Version)
	require.NoError(t, err)
	r, err := resume()
	require.NoError(t, err)
	require.Equal(t, applystate.Proceed, r.Next)
	got := b.op(t, "x")
	require.Equal(t, "moved", got.Deployment)
	require.Equal(t, l.Token, got.OwnerToken)
	require.False(t, got.StartedAt.IsZero(), "claimed")
}
