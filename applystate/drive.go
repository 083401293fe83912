package applystate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/statefold/statefold/storage"
)

// Directive tells a deployment's drive loop what to do next; see
// [Result.Next].
type Directive int

// The directives.
const (
	// Proceed: go on. A deployment that has not started may start now (its
	// start is claimed and granted: no terminal decision can miss it, and
	// it is never taken back); one that runs carries on. A pending report
	// on a granted start is answered Proceed again unless a stop was
	// requested, paused or halted meanwhile or not: the start was granted
	// before, and the rollout counts it as running.
	Proceed Directive = iota + 1
	// Wait: do not start now; poll again. The rollout is paused (or a
	// claimed start could not be checked yet: Undetermined). Work already
	// running carries on.
	Wait
	// DoNotStart: never start. The apply is terminal, a stop was
	// requested, the rollout is halted by a failure, or this operation is
	// over (settled or stopped). Work already running is not stopped by
	// the directive: after a stop request stop it and report stopped. A
	// deployment whose start was granted (told Proceed) and that never
	// started reports stopped too: its granted start holds the apply until
	// its deployment reports another state than pending.
	DoNotStart
	// Resume: the work may be running — observe it, do not start it
	// again. Only a Drive under a lease that took the operation over
	// ([Lease.Resume]: an earlier owner was granted its start, or it
	// started) gets it, where it would have been told Proceed to a pending
	// report: the earlier owner may have started the work (or died before
	// it did). Find out through the tool that runs the change, with the
	// lease's token, and report what it shows; a started state reported
	// under the same lease is answered Proceed (carry on). Never a second
	// Proceed for one start.
	Resume
)

// String returns "proceed", "wait", "do_not_start" or "resume".
func (d Directive) String() string {
	switch d {
	case Proceed:
		return "proceed"
	case Wait:
		return "wait"
	case DoNotStart:
		return "do_not_start"
	case Resume:
		return "resume"
	}
	return fmt.Sprintf("Directive(%d)", int(d))
}

// claimed reports whether op is pending with a claimed start: its
// StartedAt is set although it has not reported a started state yet.
func claimed(op storage.Operation) bool {
	return Normalize(op.State) == Pending && !op.StartedAt.IsZero()
}

// active reports whether op holds its apply open whatever the other rows
// say: a claimed start, or started work that is neither settled nor
// stopped. [Rollout] is never terminal over a listing that holds an active
// row, so a terminal decision never relies on one: it may change without
// the ceremony of [Projector.bump].
func active(op storage.Operation) bool {
	s := Normalize(op.State)
	return claimed(op) || (s != Pending && s != Stopped && !s.Settled())
}

// granted reports whether op's claimed start was granted: the Drive that
// checked the claim against the apply and its listing acknowledged it
// (Projected) before answering Proceed. A granted start may be running: it
// is never given back, only replaced by the state its deployment reports.
func granted(op storage.Operation) bool { return claimed(op) && op.Projected }

// unclaimed reports whether op is pending and nobody claimed its start.
func unclaimed(op storage.Operation) bool {
	return Normalize(op.State) == Pending && op.StartedAt.IsZero()
}

// mayMove reports whether an operation row in state from may be written
// with state to: a settled operation never changes again, a stopped one
// only moves on to a settled state (reporting stopped again changes
// nothing, StartedAt included), and a started one never returns to pending.
func mayMove(from, to State) bool {
	switch {
	case from.Settled():
		return false
	case from == Stopped:
		return to.Settled()
	case from != Pending && to == Pending:
		return false
	}
	return true
}

// halted reports whether a failure under the halt policy stops the rollout
// from starting anything new.
func halted(ops []storage.Operation) bool {
	for _, c := range Children(ops) {
		if c.State == Failed && c.OnFailure != Continue && c.OnFailure != Pause {
			return true
		}
	}
	return false
}

// orphaned reports whether op is a finalizer that can never run: a work
// operation (not a finalizer) of its group failed. Its start is never
// claimed (see [Children]: a pending orphaned finalizer is inert).
func orphaned(op storage.Operation, ops []storage.Operation) bool {
	if !op.Finalizer || op.Group == "" {
		return false
	}
	return slices.ContainsFunc(ops, func(o storage.Operation) bool {
		return o.Group == op.Group && !o.Finalizer && Normalize(o.State) == Failed
	})
}

// nextOf is the directive for a deployment whose operation the apply a
// holds, as far as the apply alone tells.
func nextOf(a storage.Apply) Directive {
	switch {
	case Normalize(a.State).Terminal(), a.StopRequested:
		return DoNotStart
	}
	return Proceed
}

// directive is the directive for the deployment of row once the apply is a.
func directive(a storage.Apply, row storage.Operation) Directive {
	s := Normalize(row.State)
	switch {
	case Normalize(a.State).Terminal(), s.Terminal():
		return DoNotStart
	case s != Pending || claimed(row):
		if a.StopRequested {
			return DoNotStart
		}
		return Proceed
	case a.StopRequested:
		return DoNotStart
	case Normalize(a.State) == Paused:
		return Wait
	}
	return DoNotStart
}

// driveOperation is Drive with an operation model: tasks of one operation
// opID whose derived state is current.
//
// The row is read, then the apply. A row that is not active (pending,
// stopped) moves only after the apply is bumped ([Projector.bump]). The
// row is written (compare-and-swap), then the apply is read, every
// operation listed with the fresh row folded in, and the apply written by
// compare-and-swap — forced at the first version read after the row
// write, so that no write computed from an older listing lands over it —
// and then the row is acknowledged (Projected). A terminal write first
// seals the listed rows that are neither settled nor active
// ([Projector.seal]). After a lost row compare-and-swap the row and then
// the apply are read again. A poll that changes nothing on an acknowledged
// row reads the row and the apply only.
//
// A pending report on an unclaimed row of an open apply claims the start:
// the row keeps state pending and gets its StartedAt, which every
// projection counts as running. Because the claim is written before the
// apply is read, and a terminal decision reads the apply before it lists
// the operations, of two concurrent callers at least one sees the other:
// either the terminal decision lists the claim and holds, or the claim
// reads the stop, the halt or the terminal apply — or its own listing
// pauses or halts the rollout, or shows the operation an orphaned
// finalizer — and is given back. Only a claim whose forced apply write
// landed on an open apply, and whose acknowledgement then landed (the
// grant), returns Proceed; a granted claim is never given back.
func (p *Projector) driveOperation(ctx context.Context, applyID, opID string, current State, failMsg string, failed bool, l *Lease) (Result, error) {
	row, err := p.ops.GetOperation(ctx, applyID, opID)
	if errors.Is(err, storage.ErrNotFound) {
		// An unknown operation of an existing apply is the caller's bug;
		// of a missing apply (a plan not created yet), the apply is
		// reported missing. A plan creates its operations before its
		// apply: once the apply is read, a second read of the row is
		// final.
		if _, aerr := p.applies.GetApply(ctx, applyID); aerr != nil {
			return Result{}, fmt.Errorf("applystate: get apply %q: %w", applyID, aerr)
		}
		row, err = p.ops.GetOperation(ctx, applyID, opID)
		if errors.Is(err, storage.ErrNotFound) {
			return Result{}, unknownOperation(0, applyID, opID)
		}
	}
	if err != nil {
		return Result{}, fmt.Errorf("applystate: get operation %q: %w", opID, err)
	}
	a, err := p.applies.GetApply(ctx, applyID)
	if err != nil {
		return Result{}, fmt.Errorf("applystate: get apply %q: %w", applyID, err)
	}
	noClaim := false // set once the rollout is known halted
	for attempt := 0; attempt < p.cfg.maxAttempts; attempt++ {
		if !holds(row, l) {
			// Every write below is a compare-and-swap on this read of
			// the row, or follows one: none lands for a loop that does
			// not own the operation as read.
			return Result{}, notOwner(row, l)
		}
		prev := Normalize(a.State)
		if prev.Terminal() {
			// No row is written once the apply is terminal.
			return Result{Apply: a, Previous: prev, Next: DoNotStart}, nil
		}
		if current == Pending && Normalize(row.State) == Pending && !granted(row) && !noClaim && !a.StopRequested && prev == RunningDegraded {
			// A failure may halt the rollout: only the rows tell.
			ops, err := p.ops.ListOperations(ctx, applyID)
			if err != nil {
				return Result{}, fmt.Errorf("applystate: list operations of %q: %w", applyID, err)
			}
			noClaim = halted(ops) || orphaned(row, ops)
		}
		next := p.report(row, a, current, failMsg, failed, noClaim)
		wrote := false
		if !sameRow(next, row) {
			if !active(row) {
				// A row a terminal decision may rely on (pending,
				// stopped) moves only after the apply, read after the
				// row, is bumped: see bump.
				bumped, lost, err := p.bump(ctx, a)
				if err != nil {
					return Result{}, err
				}
				if lost {
					if row, a, err = p.reread(ctx, applyID, opID); err != nil {
						return Result{}, err
					}
					continue
				}
				a = bumped
			}
			next.Projected, next.UpdatedAt = false, p.now()
			w, err := p.ops.UpdateOperation(ctx, next, row.Version)
			if errors.Is(err, storage.ErrConflict) {
				// Another write of the row landed: read the row, then the
				// apply. A fence (and any decision) relies on an apply read
				// after the row it acknowledges was written; the apply read
				// before this round is older than that row.
				if row, a, err = p.reread(ctx, applyID, opID); err != nil {
					return Result{}, err
				}
				continue
			}
			if err != nil {
				return Result{}, fmt.Errorf("applystate: write operation %q: %w", opID, err)
			}
			row, wrote = w, true
		} else if from := Normalize(row.State); from != current {
			p.cfg.logger.DebugContext(ctx, "applystate: operation row left as is: a settled operation never changes, a stopped one only settles, a started one never returns to pending",
				"apply", applyID, "operation", opID, "stored", from, "reported", current)
		}
		if !wrote && row.Projected {
			// Nothing changed and the apply has been projected over this
			// row: two point reads.
			return Result{Apply: a, Previous: prev, Next: resumed(directive(a, row), current, l, row)}, nil
		}
		var first *storage.Apply
		if !wrote {
			first = &a // read after the row was written
		}
		release := false
		fence := newFence()
		res, err := p.project(ctx, applyID, first, func(b storage.Apply) (decision, error) {
			ops, err := p.ops.ListOperations(ctx, applyID)
			if err != nil {
				// No projection without every row: the apply is left as
				// it is and the row unacknowledged, so the next poll
				// projects it.
				return decision{}, fmt.Errorf("applystate: list operations of %q: %w", applyID, err)
			}
			i := slices.IndexFunc(ops, func(op storage.Operation) bool { return op.ID == opID })
			if i < 0 {
				// A listing without the row just written (a store that
				// does not read after write): refuse, write nothing.
				p.cfg.logger.WarnContext(ctx, "applystate: the operations listed lack the one just written; projection refused", "apply", applyID, "operation", opID)
				return decision{undetermined: true}, nil
			}
			// Fold the fresh row over a stale listing; a newer listed row
			// (a later write) wins.
			if ops[i].Version <= row.Version {
				ops[i] = row
			}
			mine := ops[i]
			s, msg := rollout(ops, b) // sorts ops
			// A claim that reads a stop, a pause or a halt — on the apply,
			// or in its own listing: a pause or halt whose apply write has
			// not landed yet — is given back, and so is the claim of a
			// finalizer its listing shows orphaned.
			if claimed(mine) && !mine.Projected && (b.StopRequested || Normalize(b.State) == Paused || s == Paused || halted(ops) || orphaned(mine, ops)) {
				release = true
				return decision{undetermined: true}, nil
			}
			if s.Terminal() {
				if sealed, err := p.seal(ctx, ops); err != nil || !sealed {
					return decision{retry: true}, err
				}
			}
			return decision{state: s, msg: msg, force: fence.needed(b)}, nil
		})
		if err != nil {
			return Result{}, err
		}
		if release {
			// The claim read a stop, a pause or a halt: the next round
			// gives it back and projects the row again, unclaimed.
			a, noClaim = res.Apply, true
			continue
		}
		if (res.Changed || res.Apply.Version > fence.at) && !res.Undetermined && !Normalize(res.Apply.State).Terminal() {
			acked, err := p.acknowledge(ctx, row)
			switch {
			case err == nil:
				row = acked
			case (claimed(row) || l != nil) && errors.Is(err, storage.ErrConflict):
				// The claim changed before it was granted — given back
				// by another loop that read a stop, a pause or a halt, or
				// granted by one — or, under a lease, the row changed (it
				// may have been acquired since): read it again.
				if row, a, err = p.reread(ctx, applyID, opID); err != nil {
					return Result{}, err
				}
				continue
			case claimed(row):
				// Not granted, or not known to be: no Proceed. The claim
				// holds the apply; the next poll checks it again.
				return Result{}, fmt.Errorf("applystate: acknowledge the claimed start of operation %q: %w", opID, err)
			}
		}
		res.Next = directive(res.Apply, row)
		if res.Next == Proceed && claimed(row) && !row.Projected {
			// A start is granted by its acknowledgement, and only then
			// answered Proceed: the claim is not confirmed yet.
			res.Next = Wait
		}
		res.Next = resumed(res.Next, current, l, row)
		return res, nil
	}
	return Result{}, fmt.Errorf("applystate: write operation %q: %d attempts: %w", opID, p.cfg.maxAttempts, storage.ErrConflict)
}

// bump rewrites the apply a as read (a new UpdatedAt stamp, nothing else)
// by compare-and-swap at its version, before a row that is not active moves
// (see [active]); it returns the apply written, or lost when another write
// got there first (then read the row and the apply again). a must be open
// and read after the row was read.
//
// Together with [Projector.seal] this keeps every row as the terminal
// write's listing says once that write lands. A terminal decision reads the
// apply (version v), lists, seals each listed row that is neither settled
// nor active, and writes at v. A writer of such a row read it, then bumps
// the apply, then writes the row at the version read. If the bump lands
// before the terminal write, that write finds the apply past v and fails;
// if after, the bump fails (the apply moved past the writer's read) or the
// writer read the apply terminal and writes nothing. So a row write landing
// after the terminal write needs a bump that landed before it, at a version
// the decider read after the bump — and the decider, listing after that,
// listed the row as the writer read it and sealed it: the row write fails.
// A settled row never moves, and an active one makes the decision
// non-terminal.
func (p *Projector) bump(ctx context.Context, a storage.Apply) (storage.Apply, bool, error) {
	w := a
	w.UpdatedAt = p.stamp(p.now())
	written, again, err := p.casApply(ctx, w, a.Version)
	if err != nil {
		return storage.Apply{}, false, err
	}
	return written, again != nil, nil
}

// seal rewrites unchanged, each by compare-and-swap at its listed version,
// the rows of ops (a terminal decision's listing) that are neither settled
// nor active — the rows whose later moves the decision must exclude (see
// [Projector.bump]). It reports false when one of them changed since the
// listing: the decision must read and list again.
func (p *Projector) seal(ctx context.Context, ops []storage.Operation) (bool, error) {
	for _, op := range ops {
		if Normalize(op.State).Settled() || active(op) {
			continue
		}
		_, err := p.ops.UpdateOperation(ctx, op, op.Version)
		if errors.Is(err, storage.ErrConflict) {
			p.cfg.logger.DebugContext(ctx, "applystate: an operation changed before the terminal decision sealed it", "apply", op.ApplyID, "operation", op.ID)
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("applystate: seal operation %q: %w", op.ID, err)
		}
	}
	return true, nil
}

// reread reads the operation row, then the apply: the apply read is the
// first one after the row as read was written.
func (p *Projector) reread(ctx context.Context, applyID, opID string) (storage.Operation, storage.Apply, error) {
	row, err := p.ops.GetOperation(ctx, applyID, opID)
	if err != nil {
		return storage.Operation{}, storage.Apply{}, fmt.Errorf("applystate: get operation %q: %w", opID, err)
	}
	a, err := p.applies.GetApply(ctx, applyID)
	if err != nil {
		return storage.Operation{}, storage.Apply{}, fmt.Errorf("applystate: get apply %q: %w", applyID, err)
	}
	return row, a, nil
}

// report returns row as the fresh report current asks for, following the
// rules of [mayMove]. A pending report on an unclaimed row of an open
// apply (no stop requested, not paused, not halted: noClaim) claims the
// start; on a claimed row of an apply that is not open it gives the claim
// back.
func (p *Projector) report(row storage.Operation, a storage.Apply, current State, failMsg string, failed, noClaim bool) storage.Operation {
	next := row
	if current == Pending {
		closed := noClaim || a.StopRequested || Normalize(a.State) == Paused
		switch {
		case unclaimed(row) && !closed:
			next.StartedAt = p.now() // claim the start
		case claimed(row) && !row.Projected && closed:
			// The start was never granted (never answered Proceed), so
			// the deployment has not started: give the claim back, as
			// stopped once a stop was requested. A granted claim is kept.
			next.StartedAt = time.Time{}
			if a.StopRequested {
				next.State = string(Stopped)
			}
		}
		return next
	}
	if !mayMove(Normalize(row.State), current) {
		return row
	}
	next.State = string(current)
	if failed {
		next.ErrorMessage = failMsg
	}
	now := p.now()
	if next.StartedAt.IsZero() {
		next.StartedAt = now
	}
	if current.Settled() && next.CompletedAt.IsZero() {
		next.CompletedAt = now
	}
	return next
}

// sameRow reports whether a write of next over row would change nothing
// Drive writes.
func sameRow(next, row storage.Operation) bool {
	return next.State == row.State && next.ErrorMessage == row.ErrorMessage &&
		next.StartedAt.Equal(row.StartedAt) && next.CompletedAt.Equal(row.CompletedAt)
}

// fence decides when an apply write must be forced so that the rows just
// written (or not yet acknowledged) can be acknowledged once it lands: the
// apply as first read after those rows were written may be older than
// them, and a write computed from an older listing could still land at its
// version; so the first round writes even an unchanged projection, which
// bumps the version. Any later version was written after that first read,
// hence after the rows: every write computed from it lists them, and an
// unchanged projection needs no write.
type fence struct{ at int64 }

func newFence() *fence { return &fence{at: -1} }

// needed reports whether the write over a must be forced.
func (f *fence) needed(a storage.Apply) bool {
	if f.at < 0 {
		f.at = a.Version
	}
	return a.Version == f.at
}

// acknowledge sets Projected on op by compare-and-swap, after an apply
// write that listed op as it is, and returns the stored row. After an error
// other than a conflict the row is read back: holding op acknowledged at
// the next version, the write landed. A conflict (the row changed since),
// or an error the read-back cannot settle, leaves it unacknowledged — the
// next poll of its deployment, or Reproject, projects it again — and is
// returned (a row found changed is a conflict).
func (p *Projector) acknowledge(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	w := op
	w.Projected = true
	got, err := p.ops.UpdateOperation(ctx, w, op.Version)
	if err != nil && !errors.Is(err, storage.ErrConflict) {
		if b, rerr := p.ops.GetOperation(ctx, op.ApplyID, op.ID); rerr == nil {
			switch {
			case b.Version == op.Version+1 && b.Projected && sameRow(b, op):
				return b, nil // the response was lost, the write landed
			case b.Version != op.Version:
				err = fmt.Errorf("%w (read back at version %d: %w)", err, b.Version, storage.ErrConflict)
			}
		}
	}
	switch {
	case err == nil:
		return got, nil
	case errors.Is(err, storage.ErrConflict):
		p.cfg.logger.DebugContext(ctx, "applystate: operation changed before its acknowledgement", "apply", op.ApplyID, "operation", op.ID)
	default:
		p.cfg.logger.WarnContext(ctx, "applystate: acknowledging an operation failed; its next poll projects it again",
			"apply", op.ApplyID, "operation", op.ID, "err", err)
	}
	return op, err
}
