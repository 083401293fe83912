package batchstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

func TestViewLease(t *testing.T) {
	t.Parallel()
	const d = time.Minute
	row := func(state string, age time.Duration) storage.Batch {
		return storage.Batch{ID: LeaseID, State: state, Version: 3, UpdatedAt: t0.Add(-age)}
	}
	for _, c := range []struct {
		name   string
		b      storage.Batch
		exists bool
		want   leaseView
	}{
		{"no lease row", storage.Batch{}, false, leaseView{}},
		{"idle", row(leaseIdle, time.Hour), true, leaseView{exists: true, version: 3}},
		{"held", row(leaseHeld, time.Second), true, leaseView{exists: true, version: 3, held: true}},
		{"held for exactly the lease duration", row(leaseHeld, d), true, leaseView{exists: true, version: 3, held: true}},
		{"held for longer than the lease duration: presumed crashed", row(leaseHeld, d+time.Microsecond), true, leaseView{exists: true, version: 3}},
		{"held since after the reader's clock", row(leaseHeld, -time.Hour), true, leaseView{exists: true, version: 3, held: true}},
	} {
		require.Equal(t, c.want, viewLease(c.b, c.exists, t0, d), c.name)
	}
}

func TestDecideLease(t *testing.T) {
	t.Parallel()
	const d = time.Minute
	for _, c := range []struct {
		name   string
		cur    storage.Batch
		exists bool
		want   leaseStep
	}{
		{"no lease row: create it", storage.Batch{}, false, leaseCreate},
		{"idle: take it", storage.Batch{State: leaseIdle, UpdatedAt: t0}, true, leaseTake},
		{"held: busy", storage.Batch{State: leaseHeld, UpdatedAt: t0.Add(-d)}, true, leaseBusy},
		{"held for longer than the lease duration: take it over", storage.Batch{State: leaseHeld, UpdatedAt: t0.Add(-d - 1)}, true, leaseTakeOver},
	} {
		require.Equal(t, c.want, decideLease(c.cur, c.exists, t0, d), c.name)
	}
}

func TestHeldLease(t *testing.T) {
	t.Parallel()
	tok := []byte("tok")
	fresh := heldLease("q", tok, t0, storage.Batch{}, false)
	require.Equal(t, storage.Batch{Queue: "q", ID: LeaseID, State: leaseHeld, Payload: tok, CreatedAt: t0, UpdatedAt: t0}, fresh)
	first := t0.Add(-time.Hour)
	taken := heldLease("q", tok, t0, storage.Batch{State: leaseIdle, CreatedAt: first, Version: 9}, true)
	require.Equal(t, first, taken.CreatedAt, "a taken lease keeps its creation time")
	require.Equal(t, t0, taken.UpdatedAt)
	require.True(t, carries(taken, tok))
	require.False(t, carries(taken, []byte("other")), "another Reconcile's token")
	require.False(t, carries(idleLease(taken, t0), tok), "released")
}

func TestDecideRelease(t *testing.T) {
	t.Parallel()
	lease := storage.Batch{State: leaseHeld, Version: 4}
	for _, c := range []struct {
		name string
		got  storage.Batch
		want afterRelease
	}{
		{"still held at our version: try again", storage.Batch{State: leaseHeld, Version: 4}, releaseAgain},
		{"idle one version later: our release landed", storage.Batch{State: leaseIdle, Version: 5}, releaseLanded},
		{"held one version later: taken over", storage.Batch{State: leaseHeld, Version: 5}, releaseTakenOver},
		{"idle later still: taken over and released", storage.Batch{State: leaseIdle, Version: 7}, releaseTakenOver},
	} {
		require.Equal(t, c.want, decideRelease(c.got, lease), c.name)
	}
	idle := idleLease(storage.Batch{Queue: "q", ID: LeaseID, State: leaseHeld, Payload: []byte("tok"), Version: 4}, t0)
	require.Equal(t, storage.Batch{Queue: "q", ID: LeaseID, State: leaseIdle, Version: 4, UpdatedAt: t0}, idle)
}

func TestLeaseSpent(t *testing.T) {
	t.Parallel()
	const d = time.Minute
	require.False(t, leaseSpent(t0, t0, d))
	require.False(t, leaseSpent(t0, t0.Add(d/2), d), "half the lease is still usable")
	require.True(t, leaseSpent(t0, t0.Add(d/2+1), d), "past half the lease: stop removing")
}
