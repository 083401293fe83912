package applystate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/statefold/statefold/internal/hook"
	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/storage"
)

// ErrOwned reports that another owner holds a live lease on the operation:
// [Projector.Acquire] wrote nothing. Try again after the lease's time to
// live (the error names the owner and until when it holds the operation).
var ErrOwned = errors.New("applystate: operation owned by another drive loop")

// ErrNotOwner reports a write refused because the caller does not own the
// operation: the row holds another owner or a larger token (the operation
// was acquired since), or it was acquired and the call holds no lease.
// Nothing was written. A drive loop that gets it has lost the operation:
// it stops acting on it and, if it still wants it, acquires it again.
var ErrNotOwner = errors.New("applystate: not the operation's owner")

// Lease is a drive loop's ownership of one operation, as [Projector.Acquire]
// or [Projector.Renew] returned it. Pass it to [Projector.Drive] with
// [WithLease]: every write that Drive makes for the operation then happens
// only while the row still holds this owner and token.
type Lease struct {
	// ApplyID and OperationID name the operation.
	ApplyID, OperationID string
	// Owner is the drive loop's identity, as passed to Acquire.
	Owner string
	// Token is the fencing token of this acquisition: larger than the
	// token of every earlier acquisition of the operation (the same
	// owner's included). Pass it to the tool that runs the change so that
	// it can fence its own side effects: a tool that remembers the largest
	// token it has seen for the operation and refuses smaller ones never
	// acts for a loop that lost the operation.
	Token int64
	// Until is when the lease lapses unless renewed. It only tells another
	// owner when it may take over: a lease past Until that nobody took
	// over still writes.
	Until time.Time
	// Resume reports a takeover of work that may be running: when the
	// operation was acquired it had started (a state other than pending
	// and stopped) or held a granted start (told [Proceed] to an earlier
	// owner). Drive under this lease answers [Resume] where it would have
	// answered Proceed to a pending report: observe the work, do not start
	// it again.
	Resume bool
}

// DriveOption configures one [Projector.Drive] call. A nil DriveOption is
// an error matching storage.ErrInvalid, and nothing is read or written.
type DriveOption func(*driveConfig)

type driveConfig struct {
	lease *Lease
}

// WithLease makes Drive write for the operation only as its owner l: every
// row write (the report, a claim, its give-back, the acknowledgement) is a
// compare-and-swap on a row read that held l.Owner and l.Token, so no
// acquisition landed in between; when the row holds another owner or
// token, Drive returns an error matching [ErrNotOwner] and writes nothing.
// The lease must name the apply and the operation of the Drive's tasks
// (else storage.ErrInvalid).
func WithLease(l Lease) DriveOption { return func(c *driveConfig) { c.lease = &l } }

// holds reports whether row may be written by a Drive under l (nil: no
// lease): the row holds l's owner and token, or, without a lease, the
// operation was never acquired.
func holds(row storage.Operation, l *Lease) bool {
	if l == nil {
		return row.OwnerToken == 0
	}
	return row.Owner == l.Owner && row.OwnerToken == l.Token
}

// notOwner is the error for a Drive (or Renew, Release) under l refused on
// row.
func notOwner(row storage.Operation, l *Lease) error {
	if l == nil {
		return fmt.Errorf("applystate: operation %q of apply %q was acquired (owner %q, token %d): drive it with a lease: %w",
			row.ID, row.ApplyID, row.Owner, row.OwnerToken, ErrNotOwner)
	}
	return fmt.Errorf("applystate: operation %q of apply %q is held by owner %q with token %d, not by %q with token %d: %w",
		row.ID, row.ApplyID, row.Owner, row.OwnerToken, l.Owner, l.Token, ErrNotOwner)
}

// resumes reports whether a Drive under l answers [Resume] instead of
// [Proceed] to a pending report on row.
func resumes(l *Lease, row storage.Operation) bool {
	return l != nil && l.Resume && begun(row)
}

// live reports whether row holds a lease of another owner than owner that
// has not lapsed at now.
func live(row storage.Operation, owner string, now time.Time) bool {
	return row.Owner != "" && row.Owner != owner && now.Before(row.OwnerUntil)
}

func (p *Projector) checkLease(ctx context.Context, applyID, opID string) error {
	if err := p.check(ctx, applyID, true); err != nil {
		return err
	}
	return storage.ValidateKey("opID", opID)
}

func checkTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return storage.Invalid("ttl", "%v is not a positive time to live", ttl)
	}
	return nil
}

// Acquire makes owner the owner of operation opID of apply applyID for ttl
// and returns its [Lease]. owner identifies one drive loop (a label of at
// most storage.MaxKeyBytes bytes, unique per loop: a host name and a
// process id, say); two loops must never share one.
//
// When another owner's lease is live (its OwnerUntil is after the
// Projector's clock), Acquire writes nothing and returns an error matching
// [ErrOwned]. Otherwise it writes the row by compare-and-swap with Owner,
// OwnerUntil = now+ttl and a fencing token one above the row's (so every
// acquisition, the same owner's included, gets a larger token than every
// earlier one), keeping every other field, the acknowledgement included
// ([Acknowledged]); a conflict
// reads the row again and decides again, up to the Projector's attempts
// (then storage.ErrConflict). After another write error the row is read
// back: holding this owner and token, the write landed; still at the
// version read, the outcome is unknown (storage.ErrAmbiguous, with the
// store's error).
//
// Lease.Resume is set when the row had started or held a granted start:
// the previous owner may have started the work. A missing operation is
// storage.ErrNotFound; bad input (an empty owner, ttl <= 0, bad keys) is
// storage.ErrInvalid naming the field, and nothing is written.
func (p *Projector) Acquire(ctx context.Context, applyID, opID, owner string, ttl time.Duration) (_ Lease, err error) {
	ctx, call := p.start(ctx, "Acquire", applyID, opID)
	defer func() { call.End(err, observe.Outcome{}, errorType) }()
	if err := p.checkLease(ctx, applyID, opID); err != nil {
		return Lease{}, err
	}
	if err := storage.ValidateKey("owner", owner); err != nil {
		return Lease{}, err
	}
	if err := checkTTL(ttl); err != nil {
		return Lease{}, err
	}
	want := Lease{ApplyID: applyID, OperationID: opID, Owner: owner}
	for attempt := 0; attempt < p.cfg.maxAttempts; attempt++ {
		retrying(ctx, attempt)
		l, done, err := p.acquireOnce(ctx, want, ttl)
		if err != nil || done {
			return l, err
		}
	}
	return Lease{}, fmt.Errorf("applystate: acquire operation %q: %d attempts: %w", opID, p.cfg.maxAttempts, storage.ErrConflict)
}

// acquireOnce is one round of Acquire for want (its ApplyID, OperationID
// and Owner); not done, the write lost to another and the next round
// decides again.
func (p *Projector) acquireOnce(ctx context.Context, want Lease, ttl time.Duration) (Lease, bool, error) {
	opID := want.OperationID
	row, err := p.ops.GetOperation(ctx, want.ApplyID, opID)
	if err != nil {
		return Lease{}, true, fmt.Errorf("applystate: acquire operation %q: %w", opID, err)
	}
	w, l, err := acquisition(want, ttl, row, p.now())
	if err != nil {
		return Lease{}, true, err
	}
	_, err = p.ops.UpdateOperation(ctx, w, row.Version)
	switch {
	case err == nil:
		p.cfg.logger.DebugContext(ctx, "applystate: operation acquired", "apply", l.ApplyID, "operation", opID,
			"owner", l.Owner, "token", l.Token, "resume", l.Resume)
		if row.Owner != "" && row.Owner != l.Owner {
			hook.Emit(ctx, observe.Event{Kind: observe.Takeover, Reason: "operation"})
		}
		return l, true, nil
	case errors.Is(err, storage.ErrConflict):
		return Lease{}, false, nil // another write of the row landed: decide again
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalid):
		return Lease{}, true, fmt.Errorf("applystate: acquire operation %q: %w", opID, err)
	}
	b, rerr := p.ops.GetOperation(ctx, l.ApplyID, opID)
	if rerr != nil {
		return Lease{}, true, fmt.Errorf("applystate: acquire operation %q: %w: %w (read back: %w)", opID, storage.ErrAmbiguous, err, rerr)
	}
	switch acquiredBack(b, row, l) {
	case landed:
		l.Until = b.OwnerUntil
		return l, true, nil
	case notLanded:
		return Lease{}, true, fmt.Errorf("applystate: acquire operation %q: %w: %w", opID, storage.ErrAmbiguous, err)
	}
	return Lease{}, false, nil // another write landed at that version: this one did not
}

// acquisition decides an acquisition by want.Owner of row (of want's
// apply and operation) for ttl at now: the row to write — the owner, a
// token one above the row's, OwnerUntil now+ttl, every other field kept —
// and the lease it gives; or, while another owner's lease is live, an
// error matching [ErrOwned].
func acquisition(want Lease, ttl time.Duration, row storage.Operation, now time.Time) (storage.Operation, Lease, error) {
	if live(row, want.Owner, now) {
		return storage.Operation{}, Lease{}, fmt.Errorf("applystate: acquire operation %q of apply %q: owner %q holds it until %s: %w",
			want.OperationID, want.ApplyID, row.Owner, row.OwnerUntil.Format(time.RFC3339Nano), ErrOwned)
	}
	w := carried(row, row)
	w.Owner, w.OwnerToken, w.OwnerUntil, w.UpdatedAt = want.Owner, row.OwnerToken+1, now.Add(ttl), now
	l := want
	l.Token, l.Until, l.Resume = w.OwnerToken, w.OwnerUntil, begun(row)
	return w, l, nil
}

// acquiredBack tells what became of the acquisition l, written over row,
// from b, the row read back after the write returned an error: a token is
// written by exactly one acquisition and an owner is one loop, so b
// holding l's owner and token is this write; b still at row's version,
// it has not landed (yet); else another write got there.
func acquiredBack(b, row storage.Operation, l Lease) outcome {
	switch {
	case b.Owner == l.Owner && b.OwnerToken == l.Token:
		return landed
	case b.Version == row.Version:
		return notLanded
	}
	return superseded
}

// Renew extends l to ttl from now with one compare-and-swap of the row
// (OwnerUntil and UpdatedAt; every other field kept), only while the row
// still holds l.Owner and l.Token: otherwise it returns an error matching
// [ErrNotOwner] and writes nothing. A lease past its Until that nobody took
// over is renewed. A conflict with another write of the row (an
// acknowledgement, a stop) reads the row again and retries; after another
// write error the row is read back as [Projector.Acquire] does. The lease
// returned carries the new Until; Token and Resume stay.
func (p *Projector) Renew(ctx context.Context, l Lease, ttl time.Duration) (_ Lease, err error) {
	ctx, call := p.start(ctx, "Renew", l.ApplyID, l.OperationID)
	defer func() { call.End(err, observe.Outcome{}, errorType) }()
	if err := p.checkLease(ctx, l.ApplyID, l.OperationID); err != nil {
		return Lease{}, err
	}
	if err := storage.ValidateKey("lease.Owner", l.Owner); err != nil {
		return Lease{}, err
	}
	if err := checkTTL(ttl); err != nil {
		return Lease{}, err
	}
	return p.setUntil(ctx, "renew", l, func(now time.Time) time.Time { return now.Add(ttl) })
}

// Release ends l early: the row's OwnerUntil is cleared by compare-and-swap
// while the row still holds l.Owner and l.Token, so that another owner may
// acquire the operation at once. Owner and token stay on the row (the next
// acquisition's token is larger), and a Drive under l still writes until
// another owner acquires the operation. A lease no longer held is an error
// matching [ErrNotOwner], and nothing is written.
func (p *Projector) Release(ctx context.Context, l Lease) (err error) {
	ctx, call := p.start(ctx, "Release", l.ApplyID, l.OperationID)
	defer func() { call.End(err, observe.Outcome{}, errorType) }()
	if err := p.checkLease(ctx, l.ApplyID, l.OperationID); err != nil {
		return err
	}
	if err := storage.ValidateKey("lease.Owner", l.Owner); err != nil {
		return err
	}
	_, err = p.setUntil(ctx, "release", l, func(time.Time) time.Time { return time.Time{} })
	return err
}

// setUntil writes the row's OwnerUntil (until(now)) by compare-and-swap
// while the row holds l, re-reading after a conflict; verb names the
// call in errors.
func (p *Projector) setUntil(ctx context.Context, verb string, l Lease, until func(time.Time) time.Time) (Lease, error) {
	for attempt := 0; attempt < p.cfg.maxAttempts; attempt++ {
		retrying(ctx, attempt)
		got, done, err := p.setUntilOnce(ctx, verb, l, until)
		if err != nil || done {
			return got, err
		}
	}
	return Lease{}, fmt.Errorf("applystate: %s operation %q: %d attempts: %w", verb, l.OperationID, p.cfg.maxAttempts, storage.ErrConflict)
}

// setUntilOnce is one round of setUntil; not done, the write lost to
// another and the next round reads the row again.
func (p *Projector) setUntilOnce(ctx context.Context, verb string, l Lease, until func(time.Time) time.Time) (Lease, bool, error) {
	row, err := p.ops.GetOperation(ctx, l.ApplyID, l.OperationID)
	if err != nil {
		return Lease{}, true, fmt.Errorf("applystate: %s operation %q: %w", verb, l.OperationID, err)
	}
	if !holds(row, &l) {
		return Lease{}, true, notOwner(row, &l)
	}
	now := p.now()
	w := carried(row, row)
	w.OwnerUntil, w.UpdatedAt = until(now), now
	_, err = p.ops.UpdateOperation(ctx, w, row.Version)
	switch {
	case err == nil:
		l.Until = w.OwnerUntil
		return l, true, nil
	case errors.Is(err, storage.ErrConflict):
		return Lease{}, false, nil // another write of the row: is it still ours?
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalid):
		return Lease{}, true, fmt.Errorf("applystate: %s operation %q: %w", verb, l.OperationID, err)
	}
	b, rerr := p.ops.GetOperation(ctx, l.ApplyID, l.OperationID)
	if rerr != nil {
		return Lease{}, true, fmt.Errorf("applystate: %s operation %q: %w: %w (read back: %w)", verb, l.OperationID, storage.ErrAmbiguous, err, rerr)
	}
	if !holds(b, &l) {
		return Lease{}, true, notOwner(b, &l)
	}
	switch untilBack(b, row, w) {
	case landed:
		l.Until = w.OwnerUntil
		return l, true, nil
	case notLanded:
		return Lease{}, true, fmt.Errorf("applystate: %s operation %q: %w: %w", verb, l.OperationID, storage.ErrAmbiguous, err)
	}
	return Lease{}, false, nil
}

// untilBack tells what became of w, the OwnerUntil write over row, from b,
// the row read back after the write returned an error and found still
// held: b past row's version with w's OwnerUntil, it landed (every later
// write of the row read this one); still at row's version, it has not
// landed (yet); else another write got there.
func untilBack(b, row, w storage.Operation) outcome {
	switch {
	case b.OwnerUntil.Equal(w.OwnerUntil) && b.Version > row.Version:
		return landed
	case b.Version == row.Version:
		return notLanded
	}
	return superseded
}

// checkDriveLease checks a Drive's lease against its apply and tasks: a
// lease needs an operation store (hasOps) and tasks that name its
// operation.
func checkDriveLease(l Lease, applyID string, m model, opID string, hasOps bool) error {
	switch {
	case !hasOps:
		return storage.Invalid("lease", "a lease needs a Projector with an OperationStore")
	case m != oneModel:
		return storage.Invalid("lease", "a lease needs tasks that name its operation %q", l.OperationID)
	case l.ApplyID != applyID:
		return storage.Invalid("lease.ApplyID", "%q, but the Drive is for apply %q", l.ApplyID, applyID)
	case l.OperationID != opID:
		return storage.Invalid("lease.OperationID", "%q, but the tasks name operation %q", l.OperationID, opID)
	}
	return storage.ValidateKey("lease.Owner", l.Owner)
}
