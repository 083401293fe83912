package batchstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/storage"
)

// LeaseID is the id of the one reserved batch row per queue that
// Reconcile holds while it removes index rows of live batches, and that
// List reads to know whether such a removal overlapped its reads. Create
// rejects it; it never appears in List's results.
const LeaseID = "\x00statefold:reconcile-lease"

// The states of the lease row.
const (
	leaseIdle = "idle"
	leaseHeld = "held"
)

// errLeaseBusy reports that another Reconcile holds the queue's lease.
var errLeaseBusy = errors.New("batchstate: the queue's reconcile lease is held")

// leaseView is what a reader saw of the lease row.
type leaseView struct {
	exists  bool
	version int64
	held    bool
}

// viewLease is what a reader at now makes of the lease row b (ok: it
// exists) under a lease duration of lease.
func viewLease(b storage.Batch, ok bool, now time.Time, lease time.Duration) leaseView {
	if !ok {
		return leaseView{}
	}
	// A lease held for longer than its duration belongs to a Reconcile that
	// crashed or stopped removing (see Reconcile): no removal under it can
	// still come.
	held := b.State == leaseHeld && now.Sub(b.UpdatedAt) <= lease
	return leaseView{exists: true, version: b.Version, held: held}
}

// leaseStep is what a Reconcile does about the lease row it read.
type leaseStep int

const (
	leaseCreate   leaseStep = iota // no lease row yet: create it held
	leaseTake                      // idle: move it to held by compare-and-swap
	leaseTakeOver                  // held for longer than its duration: the same, with a warning
	leaseBusy                      // held: leave the rows of live batches for the next run
)

// decideLease decides, from the lease row cur (exists: it was found) read
// at now, how a Reconcile takes the lease.
func decideLease(cur storage.Batch, exists bool, now time.Time, lease time.Duration) leaseStep {
	switch {
	case !exists:
		return leaseCreate
	case viewLease(cur, true, now, lease).held:
		return leaseBusy
	case cur.State == leaseHeld:
		return leaseTakeOver
	}
	return leaseTake
}

// heldLease is the lease row a Reconcile writes to hold the lease of
// queue with token at now, in place of cur (if it exists).
func heldLease(queue string, token []byte, now time.Time, cur storage.Batch, exists bool) storage.Batch {
	b := storage.Batch{Queue: queue, ID: LeaseID, State: leaseHeld, Payload: token, CreatedAt: now, UpdatedAt: now}
	if exists {
		b.CreatedAt = cur.CreatedAt
	}
	return b
}

// carries reports whether the lease row got is held with token.
func carries(got storage.Batch, token []byte) bool {
	return got.State == leaseHeld && string(got.Payload) == string(token)
}

// newToken returns a random token that tells this Reconcile's hold apart.
func newToken() []byte {
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	return []byte(hex.EncodeToString(tok[:]))
}

// holdLease takes the queue's lease as [decideLease] says: creates it
// held, or moves it from idle (or from held for longer than the lease
// duration) to held, by compare-and-swap. A lost response is resolved by
// reading the lease back: it is ours if it carries our token.
func (o *Orchestrator) holdLease(ctx context.Context, queue string) (storage.Batch, error) {
	token := newToken()
	now := o.now()
	cur, err := o.batches.GetBatch(ctx, queue, LeaseID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.Batch{}, fmt.Errorf("batchstate: reconcile %q: read lease: %w", queue, err)
	}
	exists := err == nil
	want := heldLease(queue, token, now, cur, exists)
	var got storage.Batch
	var werr error
	switch decideLease(cur, exists, now, o.cfg.lease) {
	case leaseBusy:
		return storage.Batch{}, errLeaseBusy
	case leaseCreate:
		if got, werr = o.batches.CreateBatch(ctx, want); errors.Is(werr, storage.ErrAlreadyExists) {
			return storage.Batch{}, errLeaseBusy
		}
	case leaseTakeOver:
		o.cfg.logger.WarnContext(ctx, "batchstate: reconcile takes over a lease a crashed Reconcile left held",
			"queue", queue, "held_since", cur.UpdatedAt)
		emit(ctx, observe.Takeover, "lease")
		fallthrough
	case leaseTake:
		if got, werr = o.batches.UpdateBatch(ctx, want, cur.Version, cur.State); errors.Is(werr, storage.ErrConflict) {
			return storage.Batch{}, errLeaseBusy
		}
	}
	if werr == nil {
		return got, nil
	}
	// The write may have landed: it did if the lease carries our token.
	if got, err := o.batches.GetBatch(ctx, queue, LeaseID); err == nil && carries(got, token) {
		return got, nil
	}
	return storage.Batch{}, fmt.Errorf("batchstate: reconcile %q: take lease: %w", queue, werr)
}

// idleLease is the lease row that releases lease at now.
func idleLease(lease storage.Batch, now time.Time) storage.Batch {
	idle := lease
	idle.State, idle.Payload, idle.UpdatedAt = leaseIdle, nil, now
	return idle
}

// afterRelease is what a failed release learns from the lease row read
// back.
type afterRelease int

const (
	releaseAgain     afterRelease = iota // still ours and held: try again
	releaseLanded                        // the release landed; its response was lost
	releaseTakenOver                     // another Reconcile took it: it is not ours any more
)

// decideRelease decides, from the lease row got read back after a failed
// release of lease, whether the release landed.
func decideRelease(got, lease storage.Batch) afterRelease {
	switch {
	case got.Version == lease.Version+1 && got.State == leaseIdle:
		return releaseLanded
	case got.Version != lease.Version || got.State != leaseHeld:
		return releaseTakenOver
	}
	return releaseAgain
}

// releaseLease moves the lease back to idle, trying twice. If that fails,
// the lease expires after its duration.
func (o *Orchestrator) releaseLease(ctx context.Context, queue string, lease storage.Batch) error {
	idle := idleLease(lease, o.now())
	var err error
	for range 2 {
		if _, err = o.batches.UpdateBatch(ctx, idle, lease.Version, leaseHeld); err == nil {
			return nil
		}
		got, gerr := o.batches.GetBatch(ctx, queue, LeaseID)
		if gerr != nil {
			continue
		}
		after := decideRelease(got, lease)
		if after == releaseLanded {
			return nil
		}
		if after == releaseTakenOver {
			break
		}
	}
	return fmt.Errorf("batchstate: reconcile %q: release lease (it expires after %s): %w", queue, o.cfg.lease, err)
}
