package applystate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/statefold/statefold/storage"
)

// The writes of the apply: the projection write (read → decide →
// compare-and-swap, retried on a conflict), the flag writes of Stop and
// ReleasePause, and the bump; after a write error each reads the apply
// back to tell whether it landed.

// rollout projects the apply over its operations and returns the state and
// the aggregate error message. ops is sorted in place.
func rollout(ops []storage.Operation, a storage.Apply) (State, string) {
	sortOps(ops)
	s := Rollout(Children(ops), Flags{PauseReleased: a.PauseReleased, StopRequested: a.StopRequested})
	msg := a.ErrorMessage
	for _, op := range ops {
		if Normalize(op.State) == Failed {
			name := op.Deployment
			if name == "" {
				name = op.ID
			}
			msg = truncate("deployment " + name + " failed: " + op.ErrorMessage)
			break
		}
	}
	return s, msg
}

// decision is what a target decided for the apply.
type decision struct {
	state State  // the projected state
	msg   string // the apply's error message
	// undetermined refuses the write.
	undetermined bool
	// retry writes nothing and starts a new round (the apply read again):
	// a row changed under the decision, or the target wrote rows.
	retry bool
	// force writes the apply even when the projection is unchanged: the
	// write bumps its version (see [ackVersion]).
	force bool
}

// target computes the apply's next state and error message from the stored
// apply.
type target func(a storage.Apply) (decision, error)

// projectionWrite is the write of decision d over the apply a at now, and
// whether it is needed: the state and message decided, StartedAt once the
// apply leaves pending, CompletedAt once it settles; nothing changed and
// no force, no write. The caller stamps UpdatedAt.
func projectionWrite(a storage.Apply, d decision, now time.Time) (storage.Apply, bool) {
	w := a
	w.State, w.ErrorMessage = string(d.state), d.msg
	if d.state != Pending && w.StartedAt.IsZero() {
		w.StartedAt = now
	}
	if d.state.Terminal() && d.state != Stopped && w.CompletedAt.IsZero() {
		w.CompletedAt = now
	}
	changed := w.State != a.State || w.ErrorMessage != a.ErrorMessage ||
		!w.StartedAt.Equal(a.StartedAt) || !w.CompletedAt.Equal(a.CompletedAt)
	return w, changed || d.force
}

// project runs the read → project → compare-and-swap loop. A non-nil
// first is the apply as the caller just read it, used by the first round
// instead of a read (the compare-and-swap catches any later change). A
// terminal apply is never overwritten.
func (p *Projector) project(ctx context.Context, applyID string, first *storage.Apply, next target) (Result, error) {
	for attempt := 0; attempt < p.cfg.maxAttempts; attempt++ {
		retrying(ctx, attempt)
		a, err := p.readOr(ctx, applyID, first)
		if err != nil {
			return Result{}, err
		}
		first = nil
		prev := Normalize(a.State)
		res := Result{Apply: a, Previous: prev, Next: nextOf(a)}
		if prev.Terminal() {
			return res, nil
		}
		d, err := next(a)
		switch {
		case err != nil:
			return Result{}, err
		case d.retry:
			continue
		case d.undetermined:
			p.cfg.logger.DebugContext(ctx, "applystate: projection refused on incomplete information", "apply", applyID)
			res.Undetermined = true
			return res, nil
		}
		now := p.now()
		w, write := projectionWrite(a, d, now)
		if !write {
			return res, nil
		}
		w.UpdatedAt = p.stamp(now)
		written, again, err := p.casApply(ctx, w, a.Version)
		if err != nil {
			return Result{}, err
		}
		if again != nil {
			first = again // the next round projects the apply just read
			continue
		}
		res = Result{Apply: written, Previous: prev, Changed: true, Terminalized: d.state.Terminal(), Next: nextOf(written)}
		if p.cfg.observer != nil {
			p.cfg.observer(ctx, res)
		}
		if res.Terminalized {
			p.unlist(ctx, written)
		}
		return res, nil
	}
	return Result{}, fmt.Errorf("applystate: write apply %q: %d attempts: %w", applyID, p.cfg.maxAttempts, storage.ErrConflict)
}

// readOr returns *first when it is not nil, else the apply as read.
func (p *Projector) readOr(ctx context.Context, applyID string, first *storage.Apply) (storage.Apply, error) {
	if first != nil {
		return *first, nil
	}
	a, err := p.applies.GetApply(ctx, applyID)
	if err != nil {
		return storage.Apply{}, fmt.Errorf("applystate: get apply %q: %w", applyID, err)
	}
	return a, nil
}

// setFlag sets StopRequested or PauseReleased by compare-and-swap (set
// decides the write over the apply as read) and reports whether it wrote;
// a terminal apply is left alone. The write is stamped and read back after
// an error like a projection write ([Projector.casApply]).
func (p *Projector) setFlag(ctx context.Context, applyID string, set func(*storage.Apply) bool) (storage.Apply, bool, error) {
	for attempt := 0; attempt < p.cfg.maxAttempts; attempt++ {
		a, err := p.applies.GetApply(ctx, applyID)
		if err != nil {
			return storage.Apply{}, false, fmt.Errorf("applystate: get apply %q: %w", applyID, err)
		}
		if Normalize(a.State).Terminal() {
			return a, false, nil
		}
		w := a
		if !set(&w) {
			return a, false, nil
		}
		w.UpdatedAt = p.stamp(p.now())
		written, again, err := p.casApply(ctx, w, a.Version)
		if err != nil {
			return storage.Apply{}, false, err
		}
		if again != nil {
			continue // lost to another write: read the apply again
		}
		return written, true, nil
	}
	return storage.Apply{}, false, fmt.Errorf("applystate: write apply %q: %d attempts: %w", applyID, p.cfg.maxAttempts, storage.ErrConflict)
}

// bump rewrites the apply a as read (a new UpdatedAt stamp, nothing else)
// by compare-and-swap at its version, before a row that is not active
// moves (see [active]); it returns the apply written, or lost when another
// write got there first (then read the row and the apply again). a must be
// open and read after the row was read. With [Projector.seal] it keeps
// every row as a terminal write's listing says once that write lands (see
// docs/design.md, "No row moves once the apply is terminal").
func (p *Projector) bump(ctx context.Context, a storage.Apply) (storage.Apply, bool, error) {
	w := a
	w.UpdatedAt = p.stamp(p.now())
	written, again, err := p.casApply(ctx, w, a.Version)
	if err != nil {
		return storage.Apply{}, false, err
	}
	return written, again != nil, nil
}

// casApply writes w by compare-and-swap at version expected. It returns the
// stored apply when the write landed — also when the store reported an
// error but the apply read back is this write (see [writeOutcome]) — or,
// when it lost to another write, the apply as read back for the next round
// (again). A write whose outcome the read-back cannot tell is an error
// matching [ErrAmbiguous] and the store's error. w carries a stamp of
// [Projector.stamp], so that no other write stores the same row.
func (p *Projector) casApply(ctx context.Context, w storage.Apply, expected int64) (written storage.Apply, again *storage.Apply, err error) {
	written, err = p.applies.UpdateApply(ctx, w, expected)
	if err == nil {
		return written, nil, nil
	}
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return storage.Apply{}, nil, fmt.Errorf("applystate: write apply %q: %w", w.ID, err)
	}
	// The write may have landed: a conflict can answer a resent request
	// whose first attempt landed, and any other error can hide a landed
	// write. The apply as read back tells.
	b, rerr := p.applies.GetApply(ctx, w.ID)
	if rerr != nil {
		return storage.Apply{}, nil, fmt.Errorf("applystate: write apply %q: %w: %w (reading it back: %w)", w.ID, ErrAmbiguous, err, rerr)
	}
	switch writeOutcome(b, w, expected) {
	case landed:
		p.cfg.logger.DebugContext(ctx, "applystate: an apply write reported an error but landed", "apply", w.ID, "err", err)
		return b, nil, nil
	case notLanded:
		if !errors.Is(err, storage.ErrConflict) {
			return storage.Apply{}, nil, fmt.Errorf("applystate: write apply %q: %w: %w", w.ID, ErrAmbiguous, err)
		}
	}
	return storage.Apply{}, &b, nil // lost: another write, or not landed after a conflict
}

// stamp returns the UpdatedAt of an apply write: now, or a microsecond after
// this Projector's previous stamp when the clock has not moved past it.
// Concurrent writes of one Projector so never store identical rows, which
// keeps [writeOutcome] exact for them.
func (p *Projector) stamp(now time.Time) time.Time {
	for {
		last, t := p.stamped.Load(), now.UnixMicro()
		if t <= last {
			t = last + 1
		}
		if p.stamped.CompareAndSwap(last, t) {
			return time.UnixMicro(t).UTC()
		}
	}
}

// outcome is what became of a write that returned an error.
type outcome int

const (
	// notLanded: the row is still at the version the write expected; the
	// write has not landed (yet).
	notLanded outcome = iota
	// superseded: another write holds the version this one would have
	// created, or the row moved on past it; this write is not the row's
	// state.
	superseded
	// landed: the row is this write.
	landed
)

// writeOutcome tells what became of w, written by compare-and-swap at
// version expected, from b, the apply read back after the write returned
// an error. At expected+1, b is w exactly when it holds what w wrote,
// UpdatedAt included (a Projector's stamps never repeat); past it, a
// terminal w that landed is still the apply's projected state, while a
// non-terminal one is superseded either way. See docs/design.md ("Lost
// responses").
func writeOutcome(b, w storage.Apply, expected int64) outcome {
	switch {
	case b.Version <= expected:
		return notLanded
	case b.Version == expected+1:
		if sameProjection(b, w) && b.StopRequested == w.StopRequested && b.PauseReleased == w.PauseReleased &&
			bytes.Equal(b.Payload, w.Payload) && b.CreatedAt.Equal(w.CreatedAt) {
			return landed
		}
	case Normalize(w.State).Terminal() && sameProjection(b, w):
		return landed
	}
	return superseded
}

// sameProjection reports whether a and b hold the same fields of a
// projection write: state, message and timestamps.
func sameProjection(a, b storage.Apply) bool {
	return a.ID == b.ID && a.State == b.State && a.ErrorMessage == b.ErrorMessage &&
		a.StartedAt.Equal(b.StartedAt) && a.CompletedAt.Equal(b.CompletedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}
