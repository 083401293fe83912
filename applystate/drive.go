package applystate

import (
	"context"
	"errors"
	"fmt"

	"github.com/statefold/statefold/internal/option"
	"github.com/statefold/statefold/storage"
)

// Drive folds one deployment's fresh task states into its apply and tells
// the deployment's drive loop what to do next ([Result.Next]).
//
// The operation's state is [Derive] over the tasks' states. Every task
// names the operation it belongs to (Task.OperationID), all of them the
// same one: a Drive reports one deployment. Without an operation store, or
// on an apply without operation rows, tasks that name no operation make
// the tasks' state the apply's. Otherwise the operation row is written by
// compare-and-swap (unless the move is refused: a settled operation never
// changes, a stopped one only settles, a started one never returns to
// pending; a refused move is no error), every operation is read, and the
// apply is projected with [Rollout] and written by compare-and-swap,
// retrying the whole round on a conflict. A terminal apply is returned as
// stored and nothing is written; an apply write whose outcome is unknown
// is an error matching [ErrAmbiguous]. A failed operation write returns
// its error and never writes the apply; a failed listing leaves the apply
// as it is, and so does a listing without the operation (Undetermined).
//
// Tasks that name no operation on an apply with operation rows, named
// tasks mixed with unnamed ones, tasks naming two operations and an
// OperationID the apply does not have are errors matching
// storage.ErrInvalid that name the field (for example
// "tasks[0].OperationID"), and nothing is written.
//
// Under [WithLease] every row write is a compare-and-swap of a row read
// that held the lease's owner and token: once another acquisition landed,
// Drive returns an error matching [ErrNotOwner] and stores nothing it
// reports. Without a lease the same holds for an operation that was ever
// acquired. A lease whose Resume is set turns the [Proceed] a pending
// report would get into [Resume]. A lease that names another apply or
// operation than the tasks is storage.ErrInvalid.
func (p *Projector) Drive(ctx context.Context, applyID string, tasks []Task, opts ...DriveOption) (res Result, err error) {
	ctx, call := p.start(ctx, "Drive", applyID, taskOperation(tasks))
	defer func() { ended(call, res, err) }()
	if err := p.check(ctx, applyID, false); err != nil {
		return Result{}, err
	}
	var dc driveConfig
	if err := option.Apply(&dc, opts); err != nil {
		return Result{}, err
	}
	rep, err := parseReport(tasks)
	if err != nil {
		return Result{}, err
	}
	m, opID, at := classify(tasks)
	if err := checkDrive(applyID, tasks, m, opID, at, dc.lease, p.ops != nil); err != nil {
		return Result{}, err
	}
	switch {
	case p.ops == nil:
		return p.project(ctx, applyID, nil, rep.authoritative)
	case m == noModel:
		return p.driveUnmodelled(ctx, applyID, len(tasks), rep)
	}
	return p.driveOperation(ctx, applyID, opID, rep, dc.lease)
}

// driving is one Drive of an operation in progress: its input and the row
// and the apply as it last read or wrote them. Its methods execute what
// the decisions of drive_decisions.go decide.
type driving struct {
	p             *Projector
	applyID, opID string
	rep           report
	lease         *Lease
	row           storage.Operation // the row as last read or written
	a             storage.Apply     // the apply, read after row was written
	noClaim       bool              // the rollout is halted, or the operation orphaned
	giveBack      bool              // this round's claim read a stop, a pause or a halt
	ack           *ackVersion       // this round's acknowledgement version
}

// driveOperation is Drive with an operation model: tasks of operation opID
// that report rep. Each round reads nothing new unless a write was lost;
// see docs/design.md (applystate, Write protocols) for why each write
// comes where it does.
func (p *Projector) driveOperation(ctx context.Context, applyID, opID string, rep report, l *Lease) (Result, error) {
	d := &driving{p: p, applyID: applyID, opID: opID, rep: rep, lease: l}
	if err := d.readFirst(ctx); err != nil {
		return Result{}, err
	}
	for attempt := 0; attempt < p.cfg.maxAttempts; attempt++ {
		retrying(ctx, attempt)
		res, done, err := d.round(ctx)
		if err != nil || done {
			return res, err
		}
	}
	return Result{}, fmt.Errorf("applystate: write operation %q: %d attempts: %w", opID, p.cfg.maxAttempts, storage.ErrConflict)
}

// readFirst reads the row, then the apply. An unknown operation of an
// existing apply is the caller's bug; of a missing apply (a plan not
// created yet), the apply is reported missing. A plan creates its
// operations before its apply: once the apply is read, a second read of
// the row is final.
func (d *driving) readFirst(ctx context.Context) error {
	row, err := d.p.ops.GetOperation(ctx, d.applyID, d.opID)
	if errors.Is(err, storage.ErrNotFound) {
		if _, aerr := d.readApply(ctx); aerr != nil {
			return aerr
		}
		row, err = d.p.ops.GetOperation(ctx, d.applyID, d.opID)
		if errors.Is(err, storage.ErrNotFound) {
			return unknownOperation(0, d.applyID, d.opID)
		}
	}
	if err != nil {
		return fmt.Errorf("applystate: get operation %q: %w", d.opID, err)
	}
	d.row = row
	d.a, err = d.readApply(ctx)
	return err
}

// round is one round of a Drive: it reports whether the Drive is done
// (with its result or error); not done, the next round starts over from
// the row and the apply as read.
func (d *driving) round(ctx context.Context) (Result, bool, error) {
	if !holds(d.row, d.lease) {
		// Every write below is a compare-and-swap on this read of the
		// row, or follows one: none lands for a loop that does not own
		// the operation as read.
		return Result{}, true, notOwner(d.row, d.lease)
	}
	prev := Normalize(d.a.State)
	if prev.Terminal() { // no row is written once the apply is terminal
		return Result{Apply: d.a, Previous: prev, Next: DoNotStart}, true, nil
	}
	if mayBeHalted(d.rep.state, d.row, d.a, d.noClaim) {
		ops, err := d.p.ops.ListOperations(ctx, d.applyID)
		if err != nil {
			return Result{}, true, fmt.Errorf("applystate: list operations of %q: %w", d.applyID, err)
		}
		d.noClaim = halted(ops) || orphaned(d.row, ops)
	}
	wrote, again, err := d.writeRow(ctx, reportRow(d.row, d.a, d.rep, d.noClaim, d.p.now))
	switch {
	case err != nil:
		return Result{}, true, err
	case again:
		return Result{}, false, nil
	case !wrote && Acknowledged(d.row):
		// Nothing changed and the apply has been projected over this
		// row: two point reads.
		return Result{Apply: d.a, Previous: prev, Next: resumed(directive(d.a, d.row), d.rep.state, d.lease, d.row)}, true, nil
	}
	return d.projectRow(ctx, wrote)
}

// writeRow writes next over the row as read, unless it changes nothing. A
// row that is not active moves only after the apply, read after the row,
// is bumped. It reports whether it wrote, or again when a write was lost
// and the row and the apply were read again.
func (d *driving) writeRow(ctx context.Context, next storage.Operation) (wrote, again bool, err error) {
	if sameRow(next, d.row) {
		if from := Normalize(d.row.State); from != d.rep.state {
			d.p.cfg.logger.DebugContext(ctx, "applystate: operation row left as is: a settled operation never changes, a stopped one only settles, a started one never returns to pending",
				"apply", d.applyID, "operation", d.opID, "stored", from, "reported", d.rep.state)
		}
		return false, false, nil
	}
	if !active(d.row) {
		bumped, lost, err := d.p.bump(ctx, d.a)
		switch {
		case err != nil:
			return false, false, err
		case lost:
			return false, true, d.reread(ctx)
		}
		d.a = bumped
	}
	next = acknowledgedAt(next, d.row.Version, false)
	next.UpdatedAt = d.p.now()
	w, err := d.p.ops.UpdateOperation(ctx, next, d.row.Version)
	if errors.Is(err, storage.ErrConflict) {
		// Another write of the row landed: read the row, then the apply.
		// The acknowledgement version (and any decision) relies on an
		// apply read after the row it acknowledges was written; the apply
		// read before this round is older than that row.
		return false, true, d.reread(ctx)
	}
	if err != nil {
		return false, false, fmt.Errorf("applystate: write operation %q: %w", d.opID, err)
	}
	d.row = w
	return true, false, nil
}

// projectRow projects the apply over the listing with the row folded in
// and writes it, then acknowledges the row (the grant of a claim). wrote
// says this round wrote the row: the apply is read again after it.
func (d *driving) projectRow(ctx context.Context, wrote bool) (Result, bool, error) {
	var first *storage.Apply
	if !wrote {
		first = &d.a // read after the row was written
	}
	d.giveBack, d.ack = false, newAckVersion()
	res, err := d.p.project(ctx, d.applyID, first, d.target(ctx))
	if err != nil {
		return Result{}, true, err
	}
	if d.giveBack {
		// The claim read a stop, a pause or a halt: the next round gives
		// it back and projects the row again, unclaimed.
		d.a, d.noClaim = res.Apply, true
		return Result{}, false, nil
	}
	if d.ack.acknowledges(res) {
		acked, err := d.p.acknowledge(ctx, d.row)
		switch afterAcknowledge(d.row, d.lease != nil, err) {
		case ackLanded:
			d.row = acked
		case ackReread:
			return Result{}, false, d.reread(ctx)
		case ackFailed:
			return Result{}, true, fmt.Errorf("applystate: acknowledge the claimed start of operation %q: %w", d.opID, err)
		}
	}
	res.Next = driveDirective(res.Apply, d.row, d.rep.state, d.lease)
	return res, true, nil
}

// target is the projection of a round: it lists the operations, folds the
// row in, and decides; a terminal decision seals the listed rows first.
func (d *driving) target(ctx context.Context) target {
	return func(b storage.Apply) (decision, error) {
		ops, err := d.p.ops.ListOperations(ctx, d.applyID)
		if err != nil {
			// No projection without every row: the apply is left as it
			// is and the row unacknowledged, so the next poll projects it.
			return decision{}, fmt.Errorf("applystate: list operations of %q: %w", d.applyID, err)
		}
		v := projectOver(ops, d.row, b)
		switch {
		case v.missing:
			// A listing without the row just written (a store that does
			// not read after write): refuse, write nothing.
			d.p.cfg.logger.WarnContext(ctx, "applystate: the operations listed lack the one just written; projection refused", "apply", d.applyID, "operation", d.opID)
			return decision{undetermined: true}, nil
		case v.giveBack:
			d.giveBack = true
			return decision{undetermined: true}, nil
		case v.state.Terminal():
			if sealed, err := d.p.seal(ctx, v.ops); err != nil || !sealed {
				return decision{retry: true}, err
			}
		}
		return decision{state: v.state, msg: v.msg, force: d.ack.forces(b)}, nil
	}
}

// reread reads the row, then the apply: the apply read is the first one
// after the row as read was written.
func (d *driving) reread(ctx context.Context) error {
	row, err := d.p.ops.GetOperation(ctx, d.applyID, d.opID)
	if err != nil {
		return fmt.Errorf("applystate: get operation %q: %w", d.opID, err)
	}
	d.row = row
	d.a, err = d.readApply(ctx)
	return err
}

// readApply reads the apply.
func (d *driving) readApply(ctx context.Context) (storage.Apply, error) {
	a, err := d.p.applies.GetApply(ctx, d.applyID)
	if err != nil {
		return storage.Apply{}, fmt.Errorf("applystate: get apply %q: %w", d.applyID, err)
	}
	return a, nil
}
