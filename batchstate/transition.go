package batchstate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

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
// a List running meanwhile may still need it to find the batch; Reconcile
// removes it later. A move into a terminal state writes no row and removes
// the rows of the batch's last state, which no reader needs any more.
//
// On a store that offers storage.Mover (PostgreSQL, MariaDB and MySQL)
// the row and the write of a move into a non-terminal state, without
// indexes, go in one round trip, with the same outcome.
//
// With indexes ([WithIndex]), Transition first reads the stored batch,
// whose keys are the ones b's may replace (a version or state other than
// b's is storage.ErrConflict at once); it adds the rows of the keys b
// gains before the write and removes those of the keys it loses after.
//
// On failure the original b is returned with the error; a lost race
// matches storage.ErrConflict. If the batch turns out to be terminal, the
// row this call added is removed again, so a refused move leaves nothing
// behind.
func (o *Orchestrator) Transition(ctx context.Context, b storage.Batch, to string) (out storage.Batch, err error) {
	ctx, call := o.start(ctx, "Transition", b.Queue, b.ID)
	defer func() { endBatch(call, out, err) }()
	if err := ctx.Err(); err != nil {
		return b, err
	}
	if err := checkTransition(o.m, b, to); err != nil {
		return b, err
	}
	p := planTransition(o.m, b, to, o.now())
	prev, kp, err := o.transitionKeys(ctx, b, p.next)
	if err != nil {
		return b, err
	}
	if updated, done, err := o.moveInOne(ctx, b, p); done {
		if err != nil {
			return b, o.transitionFailed(ctx, prev, p.next, b, err)
		}
		return updated, nil
	}
	if p.row != nil {
		if err := o.members.AddMember(ctx, *p.row); err != nil {
			return b, fmt.Errorf("batchstate: transition %q %q → %q: add member: %w", b.ID, b.State, to, err)
		}
	}
	if err := o.addRows(ctx, kp.before); err != nil {
		return b, fmt.Errorf("batchstate: transition %q %q → %q: %w", b.ID, b.State, to, err)
	}
	updated, err := o.batches.UpdateBatch(ctx, p.next, b.Version, b.State)
	if err != nil {
		return b, o.transitionFailed(ctx, prev, p.next, b, err)
	}
	o.dropKeys(ctx, b.Queue, b.ID, kp.drop, updated.Version)
	if p.removeLeft {
		o.removeBestEffort(ctx, b.Queue, b.State, b.ID, math.MaxInt64, "transition")
	}
	return updated, nil
}

// transitionKeys plans what a transition of b to next writes in the
// indexes. b carries the fields to write, so the keys b is stored under
// come from the stored batch, read first when indexes are declared; it
// returns the batch the transition replaces.
func (o *Orchestrator) transitionKeys(ctx context.Context, b, next storage.Batch) (storage.Batch, keyPlan, error) {
	prev := b
	if _, err := deriveKeys(o.m, o.cfg.indexes, next); err != nil {
		return b, keyPlan{}, err // before any store call
	}
	if len(o.cfg.indexes) > 0 {
		stored, err := o.batches.GetBatch(ctx, b.Queue, b.ID)
		if err != nil {
			return b, keyPlan{}, fmt.Errorf("batchstate: transition %q: read the stored batch: %w", b.ID, err)
		}
		if stored.Version != b.Version || stored.State != b.State {
			return b, keyPlan{}, fmt.Errorf("batchstate: transition %q %q → %q at version %d: stored %q at version %d: %w",
				b.ID, b.State, next.State, b.Version, stored.State, stored.Version, storage.ErrConflict)
		}
		prev = stored
	}
	kp, err := planKeys(o.m, o.cfg.indexes, o.cfg.finished, &prev, next, b.Version+1, next.UpdatedAt)
	return prev, kp, err
}

// transitionPlan is what Transition writes, in order.
type transitionPlan struct {
	// row is the index row of the new state, added first; nil when the
	// new state is final.
	row *storage.Member
	// next is the batch written by compare-and-swap, expecting the
	// version and state the caller read.
	next storage.Batch
	// removeLeft says to remove, after the write, the row of the state
	// left: only on a move into a final state.
	removeLeft bool
}

// planTransition decides what Transition writes to move b to to at now.
func planTransition(m Machine, b storage.Batch, to string, now time.Time) transitionPlan {
	p := transitionPlan{next: b}
	p.next.State, p.next.UpdatedAt = to, now
	if !m.final(to) {
		p.row = &storage.Member{Queue: b.Queue, State: to, BatchID: b.ID, Version: b.Version + 1, AddedAt: now}
	}
	p.removeLeft = m.final(to) && b.State != to
	return p
}

// removeAfterLost decides, from the batch read after a lost
// compare-and-swap, whether to remove the row the transition into to
// added: when the batch is final no one needs that row, ever.
func removeAfterLost(m Machine, stored storage.Batch, to string) bool {
	return m.final(stored.State) && !m.final(to)
}

// lostTransition reads the batch after a lost compare-and-swap, says in
// the error what is stored, and removes the row the transition added when
// [removeAfterLost] says so.
func (o *Orchestrator) lostTransition(ctx context.Context, b, next storage.Batch, err error) error {
	to := next.State
	cur, gerr := o.batches.GetBatch(ctx, b.Queue, b.ID)
	if gerr != nil {
		return err
	}
	if removeAfterLost(o.m, cur, to) {
		o.removeBestEffort(ctx, b.Queue, to, b.ID, math.MaxInt64, "refused transition")
	}
	for _, r := range lostRows(o.m, o.cfg.indexes, b, next, cur) {
		o.removeBestEffort(ctx, b.Queue, r.state, b.ID, r.maxVersion, "refused transition")
	}
	o.cfg.logger.DebugContext(ctx, "batchstate: transition lost its compare-and-swap",
		"queue", b.Queue, "batch", b.ID, "from", b.State, "to", to, "version", b.Version,
		"stored_state", cur.State, "stored_version", cur.Version)
	return fmt.Errorf("%w (stored: %q at version %d)", err, cur.State, cur.Version)
}

// transitionFailed is the error of a transition of b whose write of next
// failed with err: a lost compare-and-swap says what is stored and cleans
// up (see [Orchestrator.lostTransition]).
func (o *Orchestrator) transitionFailed(ctx context.Context, prev, next, b storage.Batch, err error) error {
	err = fmt.Errorf("batchstate: transition %q %q → %q at version %d: %w", b.ID, b.State, next.State, b.Version, err)
	if errors.Is(err, storage.ErrConflict) {
		err = o.lostTransition(ctx, prev, next, err)
	}
	return err
}

// checkTransition reports why m refuses to move b to to, if it does.
func checkTransition(m Machine, b storage.Batch, to string) error {
	if err := storage.ValidateBatch(b); err != nil {
		return err
	}
	if err := storage.ValidateVersion("batch.Version", b.Version); err != nil {
		return err
	}
	switch {
	case b.ID == LeaseID:
		return storage.Invalid("batch.ID", "id %q is reserved", b.ID)
	case !m.Known(b.State):
		return storage.Invalid("batch.State", "unknown state %q", b.State)
	case !m.Known(to):
		return storage.Invalid("to", "unknown state %q", to)
	case m.IsTerminal(b.State):
		return storage.Invalid("batch.State", "batch %q is in terminal state %q", b.ID, b.State)
	case !m.Allowed(b.State, to):
		return storage.Invalid("to", "move %q → %q is not allowed", b.State, to)
	}
	return nil
}
