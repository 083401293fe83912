package batchstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

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

func (o *Orchestrator) view(b storage.Batch, ok bool, now time.Time) leaseView {
	if !ok {
		return leaseView{}
	}
	// A lease held for longer than its duration belongs to a Reconcile that
	// crashed or stopped removing (see Reconcile): no removal under it can
	// still come.
	held := b.State == leaseHeld && now.Sub(b.UpdatedAt) <= o.cfg.lease
	return leaseView{exists: true, version: b.Version, held: held}
}

// idle (or from a held lease older than the grace) to held, by
// compare-and-swap. A lost response is resolved by reading the lease back:
// it is ours if it carries our token.
func (o *Orchestrator) holdLease(ctx context.Context, queue string) (storage.Batch, error) {
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	token := []byte(hex.EncodeToString(tok[:]))
	now := o.now()
	want := storage.Batch{Queue: queue, ID: LeaseID, State: leaseHeld, Payload: token, CreatedAt: now, UpdatedAt: now}
	cur, err := o.batches.GetBatch(ctx, queue, LeaseID)
	var werr error
	switch {
	case errors.Is(err, storage.ErrNotFound):
		var got storage.Batch
		if got, werr = o.batches.CreateBatch(ctx, want); werr == nil {
			return got, nil
		}
		if errors.Is(werr, storage.ErrAlreadyExists) {
			return storage.Batch{}, errLeaseBusy
		}
	case err != nil:
		return storage.Batch{}, fmt.Errorf("batchstate: reconcile %q: read lease: %w", queue, err)
	default:
		if o.view(cur, true, now).held {
			return storage.Batch{}, errLeaseBusy
		}
		if cur.State == leaseHeld {
			o.cfg.logger.WarnContext(ctx, "batchstate: reconcile takes over a lease a crashed Reconcile left held",
				"queue", queue, "held_since", cur.UpdatedAt)
		}
		want.CreatedAt = cur.CreatedAt
		var got storage.Batch
		if got, werr = o.batches.UpdateBatch(ctx, want, cur.Version, cur.State); werr == nil {
			return got, nil
		}
		if errors.Is(werr, storage.ErrConflict) {
			return storage.Batch{}, errLeaseBusy
		}
	}
	// The write may have landed: it did if the lease carries our token.
	if got, err := o.batches.GetBatch(ctx, queue, LeaseID); err == nil && got.State == leaseHeld && string(got.Payload) == string(token) {
		return got, nil
	}
	return storage.Batch{}, fmt.Errorf("batchstate: reconcile %q: take lease: %w", queue, werr)
}

// releaseLease moves the lease back to idle, trying twice. If that fails,
// the lease expires after its duration.
func (o *Orchestrator) releaseLease(ctx context.Context, queue string, lease storage.Batch) error {
	idle := lease
	idle.State, idle.Payload, idle.UpdatedAt = leaseIdle, nil, o.now()
	var err error
	for range 2 {
		if _, err = o.batches.UpdateBatch(ctx, idle, lease.Version, leaseHeld); err == nil {
			return nil
		}
		got, gerr := o.batches.GetBatch(ctx, queue, LeaseID)
		if gerr == nil && got.Version == lease.Version+1 && got.State == leaseIdle {
			return nil // the release landed; its response was lost
		}
		if gerr == nil && (got.Version != lease.Version || got.State != leaseHeld) {
			break // taken over: it is not ours any more
		}
	}
	return fmt.Errorf("batchstate: reconcile %q: release lease (it expires after %s): %w", queue, o.cfg.lease, err)
}
