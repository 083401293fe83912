package batchstate

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/statefold/statefold/storage"
)

// Transition moves b to state to by compare-and-swap. b is the caller's
// last read: the write succeeds only if the stored batch still has
// b.Version and b.State, so a move is only ever written out of the state
// the batch is really in. b's other fields (Payload included) are written.
//
// If to is not terminal its index row is added first, with version
// b.Version+1; if that fails (a newer row for to exists: the batch has
// moved on) nothing is written. The row of the state left is not removed:
// a List running meanwhile may still need it to find the batch (see the
// package documentation); Reconcile removes it later. A move into a
// terminal state writes no row and removes the rows of the batch's last
// state, which no reader needs any more.
//
// On failure the original b is returned with the error; a lost race
// matches storage.ErrConflict. If the batch turns out to be terminal, the
// row this call added is removed again, so a refused move leaves nothing
// behind.
func (o *Orchestrator) Transition(ctx context.Context, b storage.Batch, to string) (storage.Batch, error) {
	if err := ctx.Err(); err != nil {
		return b, err
	}
	if err := o.validateTransition(b, to); err != nil {
		return b, err
	}
	now := o.now()
	next := b
	next.State, next.UpdatedAt = to, now
	if !o.final(to) {
		m := storage.Member{Queue: b.Queue, State: to, BatchID: b.ID, Version: b.Version + 1, AddedAt: now}
		if err := o.members.AddMember(ctx, m); err != nil {
			return b, fmt.Errorf("batchstate: transition %q %q → %q: add member: %w", b.ID, b.State, to, err)
		}
	}
	updated, err := o.batches.UpdateBatch(ctx, next, b.Version, b.State)
	if err != nil {
		err = fmt.Errorf("batchstate: transition %q %q → %q at version %d: %w", b.ID, b.State, to, b.Version, err)
		if errors.Is(err, storage.ErrConflict) {
			err = o.lostTransition(ctx, b, to, err)
		}
		return b, err
	}
	if o.final(to) && b.State != to {
		o.removeBestEffort(ctx, b.Queue, b.State, b.ID, math.MaxInt64, "transition")
	}
	return updated, nil
}

// lostTransition reads the batch after a lost compare-and-swap, says in
// the error what is stored, and removes the row the transition added when
// the batch is terminal (no one needs it, ever).
func (o *Orchestrator) lostTransition(ctx context.Context, b storage.Batch, to string, err error) error {
	cur, gerr := o.batches.GetBatch(ctx, b.Queue, b.ID)
	if gerr != nil {
		return err
	}
	if o.final(cur.State) && !o.final(to) {
		o.removeBestEffort(ctx, b.Queue, to, b.ID, math.MaxInt64, "refused transition")
	}
	o.cfg.logger.DebugContext(ctx, "batchstate: transition lost its compare-and-swap",
		"queue", b.Queue, "batch", b.ID, "from", b.State, "to", to, "version", b.Version,
		"stored_state", cur.State, "stored_version", cur.Version)
	return fmt.Errorf("%w (stored: %q at version %d)", err, cur.State, cur.Version)
}

func (o *Orchestrator) validateTransition(b storage.Batch, to string) error {
	if err := storage.ValidateBatch(b); err != nil {
		return err
	}
	if err := storage.ValidateVersion("batch.Version", b.Version); err != nil {
		return err
	}
	switch {
	case b.ID == LeaseID:
		return storage.Invalid("batch.ID", "id %q is reserved", b.ID)
	case !o.m.Known(b.State):
		return storage.Invalid("batch.State", "unknown state %q", b.State)
	case !o.m.Known(to):
		return storage.Invalid("to", "unknown state %q", to)
	case o.m.IsTerminal(b.State):
		return storage.Invalid("batch.State", "batch %q is in terminal state %q", b.ID, b.State)
	case !o.m.Allowed(b.State, to):
		return storage.Invalid("to", "move %q → %q is not allowed", b.State, to)
	}
	return nil
}
