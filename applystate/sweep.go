package applystate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/statefold/statefold/internal/option"
	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/storage"
)

// DefaultIdleAfter is how long an open apply goes unwritten before
// [Projector.Sweep] reprojects it; see [WithIdleAfter].
const DefaultIdleAfter = 5 * time.Minute

// DefaultStuckAfter is how long an apply stays pending, or unwritten,
// before [Projector.Sweep] reports it stuck; see [WithStuckAfter].
const DefaultStuckAfter = time.Hour

// SweepOption configures one [Projector.Sweep] or [Projector.RunSweeper].
type SweepOption func(*sweepConfig)

type sweepConfig struct {
	idleAfter  time.Duration
	stuckAfter time.Duration
	handoff    func(context.Context, Orphan) error
	report     func(SweepReport, error)
}

// WithIdleAfter sets how long an open apply goes unwritten (its UpdatedAt)
// before a sweep reprojects it (default [DefaultIdleAfter]); d > 0.
func WithIdleAfter(d time.Duration) SweepOption { return func(c *sweepConfig) { c.idleAfter = d } }

// WithStuckAfter sets how long an apply may stay pending, or unwritten,
// before a sweep reports it stuck (default [DefaultStuckAfter]); d > 0.
func WithStuckAfter(d time.Duration) SweepOption { return func(c *sweepConfig) { c.stuckAfter = d } }

// WithHandoff sets the function a sweep hands each [Orphan] to — for
// instance one that starts a drive loop which calls [Projector.Acquire].
// Several sweepers may hand the same orphan over: Acquire lets one loop
// own it ([ErrOwned] for the others). Without it orphans are only
// reported.
func WithHandoff(f func(context.Context, Orphan) error) SweepOption {
	return func(c *sweepConfig) { c.handoff = f }
}

// WithSweepReport sets the function [Projector.RunSweeper] gives every
// sweep's report and error (default: logged).
func WithSweepReport(f func(SweepReport, error)) SweepOption {
	return func(c *sweepConfig) { c.report = f }
}

// Orphan is an operation of an open apply that was acquired ([Projector.Acquire])
// and whose owner's lease lapsed or was released, not settled: no live drive
// loop owns its deployment.
type Orphan struct {
	// ApplyID is the operation's apply.
	ApplyID string
	// OperationID is the operation.
	OperationID string
	// Deployment is the operation's target.
	Deployment string
	// Owner is the last owner.
	Owner string
	// Token is the last owner's fencing token.
	Token int64
	// Until is when the last owner's lease lapsed (zero: released).
	Until time.Time
}

// Stuck is an open apply that stayed pending, or unwritten, past the
// stuck threshold.
type Stuck struct {
	// ApplyID names the apply.
	ApplyID string
	// State is its state as listed.
	State State
	// Since is when it was created (pending) or last written.
	Since time.Time
}

// SweepReport is what one sweep did.
type SweepReport struct {
	// Open is the number of open applies listed; Removed the stale index
	// rows removed.
	Open, Removed int
	// Reprojected counts the idle applies reprojected; Changed those
	// whose state the reprojection changed, Terminalized those it made
	// terminal.
	Reprojected, Changed, Terminalized int
	// Orphans lists the operations without a live owner.
	Orphans []Orphan
	// HandedOff counts the orphans WithHandoff's function took without
	// an error.
	HandedOff int
	// Stuck lists the stuck applies.
	Stuck []Stuck
}

// sweepDecision is what a sweep does with one open apply.
type sweepDecision struct {
	reproject bool
	stuck     *Stuck
	orphans   []Orphan
}

// sweepOver decides over the open apply a and its operations at now.
func sweepOver(a storage.Apply, ops []storage.Operation, now time.Time, c sweepConfig) sweepDecision {
	var d sweepDecision
	s := Normalize(a.State)
	d.reproject = now.Sub(a.UpdatedAt) > c.idleAfter
	switch {
	case s == Pending && now.Sub(a.CreatedAt) > c.stuckAfter:
		d.stuck = &Stuck{ApplyID: a.ID, State: s, Since: a.CreatedAt}
	case now.Sub(a.UpdatedAt) > c.stuckAfter:
		d.stuck = &Stuck{ApplyID: a.ID, State: s, Since: a.UpdatedAt}
	}
	for _, op := range ops {
		if ownerless(op, now) {
			d.orphans = append(d.orphans, Orphan{ApplyID: a.ID, OperationID: op.ID, Deployment: op.Deployment,
				Owner: op.Owner, Token: op.OwnerToken, Until: op.OwnerUntil})
		}
	}
	return d
}

// ownerless reports whether op was acquired, is not settled and has no
// live owner at now.
func ownerless(op storage.Operation, now time.Time) bool {
	return op.OwnerToken > 0 && !Normalize(op.State).Settled() && !op.OwnerUntil.After(now)
}

// sweepOptions applies opts to the defaults and checks them.
func sweepOptions(opts []SweepOption) (sweepConfig, error) {
	c := sweepConfig{idleAfter: DefaultIdleAfter, stuckAfter: DefaultStuckAfter}
	if err := option.Apply(&c, opts); err != nil {
		return c, err
	}
	switch {
	case c.idleAfter <= 0:
		return c, storage.Invalid("WithIdleAfter", "%v: a positive duration", c.idleAfter)
	case c.stuckAfter <= 0:
		return c, storage.Invalid("WithStuckAfter", "%v: a positive duration", c.stuckAfter)
	}
	return c, nil
}

// Sweep is one pass of the periodic sweep over the open applies
// ([Projector.ListOpen], which needs [WithDiscovery]): it reprojects every
// apply idle past WithIdleAfter ([Projector.Reproject]: a crash between an
// operation write and the apply write, an interrupted Stop), reports the
// operations whose owner's lease lapsed ([Orphan], handed to WithHandoff's
// function when given) and the applies stuck past WithStuckAfter. It goes
// on past an apply's error and returns them all, joined. Several sweeps may
// run at once: every write is a compare-and-swap or a conditional removal.
func (p *Projector) Sweep(ctx context.Context, opts ...SweepOption) (rep SweepReport, err error) {
	ctx, call := p.start(ctx, "Sweep", "", "")
	defer func() { call.End(err, observe.Outcome{Count: rep.Open}, errorType) }()
	c, err := sweepOptions(opts)
	if err != nil {
		return SweepReport{}, err
	}
	if p.ops == nil {
		return SweepReport{}, storage.Invalid("ops", "Sweep needs an OperationStore")
	}
	open, removed, err := p.listOpen(ctx)
	if err != nil {
		return SweepReport{}, err
	}
	rep = SweepReport{Open: len(open), Removed: removed}
	var errs []error
	for _, a := range open {
		if err := p.sweepOne(ctx, a, c, &rep); err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

// sweepOne sweeps the open apply a into rep.
func (p *Projector) sweepOne(ctx context.Context, a storage.Apply, c sweepConfig, rep *SweepReport) error {
	ops, err := p.ops.ListOperations(ctx, a.ID)
	if err != nil {
		return fmt.Errorf("applystate: sweep %q: %w", a.ID, err)
	}
	d := sweepOver(a, ops, p.now(), c)
	if d.stuck != nil {
		rep.Stuck = append(rep.Stuck, *d.stuck)
	}
	var errs []error
	for _, o := range d.orphans {
		rep.Orphans = append(rep.Orphans, o)
		if c.handoff == nil {
			continue
		}
		if err := c.handoff(ctx, o); err != nil {
			errs = append(errs, fmt.Errorf("applystate: sweep %q: hand %q over: %w", a.ID, o.OperationID, err))
		} else {
			rep.HandedOff++
		}
	}
	if d.reproject {
		res, err := p.Reproject(ctx, a.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("applystate: sweep %q: %w", a.ID, err))
		} else {
			rep.Reprojected++
			rep.Changed += btoi(res.Changed)
			rep.Terminalized += btoi(res.Terminalized)
		}
	}
	return errors.Join(errs...)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// RunSweeper sweeps ([Projector.Sweep]) at once and then every interval
// until ctx ends, and returns nil then; each report goes to WithSweepReport's
// function, or is logged. A sweep's error does not stop the loop. interval
// <= 0 and an invalid option are errors matching storage.ErrInvalid.
func (p *Projector) RunSweeper(ctx context.Context, interval time.Duration, opts ...SweepOption) error {
	c, err := sweepOptions(opts)
	if err != nil {
		return err
	}
	if interval <= 0 {
		return storage.Invalid("interval", "%v: a positive interval", interval)
	}
	report := c.report
	if report == nil {
		report = func(r SweepReport, err error) { p.logSweep(ctx, r, err) }
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		report(p.Sweep(ctx, opts...))
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// logSweep logs a sweep's report.
func (p *Projector) logSweep(ctx context.Context, r SweepReport, err error) {
	level := slog.LevelInfo
	if err != nil || len(r.Stuck) > 0 || len(r.Orphans) > r.HandedOff {
		level = slog.LevelWarn
	}
	p.cfg.logger.Log(ctx, level, "applystate: sweep", "open", r.Open, "removed", r.Removed, "reprojected", r.Reprojected,
		"changed", r.Changed, "orphans", len(r.Orphans), "handed_off", r.HandedOff, "stuck", len(r.Stuck), "err", err)
}
