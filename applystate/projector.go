package applystate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/statefold/statefold/storage"
)

// ErrAmbiguous reports an apply write whose outcome the call could not
// establish: the store returned an error (or a conflict) after the write was
// sent, and reading the apply back did not tell whether it landed. The
// write may have landed, or may still land: this call may own the apply's
// terminal side effects although its Result says nothing. The error also
// wraps the store's error.
var ErrAmbiguous = errors.New("applystate: apply write outcome unknown")

// DefaultMaxAttempts is how many read → project → compare-and-swap rounds
// a call makes before it gives up with an error matching
// storage.ErrConflict.
const DefaultMaxAttempts = 8

// Option configures a [Projector].
type Option func(*config)

type config struct {
	clock       func() time.Time
	logger      *slog.Logger
	maxAttempts int
	observer    func(context.Context, Result)
}

// WithClock sets the clock timestamps are taken from (default time.Now);
// they are stored in UTC, truncated to the microsecond.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithLogger sets where refusals and retries are logged (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxAttempts sets the number of compare-and-swap rounds per call
// (default [DefaultMaxAttempts]; values below 1 mean 1).
func WithMaxAttempts(n int) Option { return func(c *config) { c.maxAttempts = n } }

// WithObserver registers a function called after every write of the
// apply's projected state (not after the flag writes of Stop and
// ReleasePause), by the caller that wrote it and only by that caller — the place for
// terminal side effects: a Result with Terminalized is observed exactly
// once per apply, unless the call that wrote it returned an error matching
// [ErrAmbiguous].
func WithObserver(f func(context.Context, Result)) Option {
	return func(c *config) { c.observer = f }
}

// Task is one task of a deployment, as its drive loop reports it.
type Task struct {
	// OperationID is the operation the task belongs to. It may be empty
	// only without an operation model: a Projector without an
	// OperationStore, or an apply that has no operation rows. Empty on an
	// apply with operations, or an id the apply does not have, is an error
	// matching storage.ErrInvalid.
	OperationID string
	// State is the task's state; see [Parse] for what is accepted.
	State State
	// ErrorMessage says why the task failed; it is truncated to
	// storage.MaxMessageBytes.
	ErrorMessage string
}

// Result is what a Projector call did.
type Result struct {
	// Apply is the apply as stored after the call.
	Apply storage.Apply
	// Previous is the stored state before the call.
	Previous State
	// Changed reports that this call wrote the apply.
	Changed bool
	// Terminalized reports that this call moved the apply into a terminal
	// state: exactly one caller per apply sees it, or else the call whose
	// write could not be told apart returned an error matching
	// [ErrAmbiguous].
	Terminalized bool
	// Undetermined reports that the projection was refused on incomplete
	// information; the stored state was left as is for the next poll.
	Undetermined bool
	// Next is what the calling deployment's drive loop does next: start
	// (or carry on) only on [Proceed]. Drive sets it from the operation row
	// and the apply; the other calls set it from the apply alone.
	Next Directive
}

// Projector keeps an apply's state the projection of its operations. It is
// safe for concurrent use: all coordination goes through compare-and-swap
// on the stores.
type Projector struct {
	applies storage.ApplyStore
	ops     storage.OperationStore
	cfg     config
	// stamped is the UpdatedAt of this Projector's latest apply write, in
	// Unix microseconds: every apply write gets a later one.
	stamped atomic.Int64
}

// NewProjector returns a Projector over the stores. ops may be nil: then
// Drive takes the tasks' state as the apply's, and Reproject, Stop and
// ReleasePause are unavailable (storage.ErrInvalid). A nil applies makes
// every call storage.ErrInvalid.
func NewProjector(applies storage.ApplyStore, ops storage.OperationStore, opts ...Option) *Projector {
	cfg := config{clock: time.Now, maxAttempts: DefaultMaxAttempts}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.clock == nil {
		cfg.clock = time.Now
	}
	if cfg.maxAttempts < 1 {
		cfg.maxAttempts = 1
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	return &Projector{applies: applies, ops: ops, cfg: cfg}
}

func (p *Projector) now() time.Time { return p.cfg.clock().UTC().Truncate(time.Microsecond) }

// truncate makes msg valid UTF-8 of at most storage.MaxMessageBytes bytes,
// cutting on a rune boundary.
func truncate(msg string) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if len(msg) <= storage.MaxMessageBytes {
		return msg
	}
	cut := storage.MaxMessageBytes
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut]
}

// model is how Drive's tasks relate to operations.
type model int

const (
	noModel  model = iota // no task names an operation
	oneModel              // every task names the same operation
	twoOps                // tasks name different operations
	mixed                 // some tasks name an operation, others none
)

// classify returns the model of tasks, the operation of the first task that
// names one, and, when mixed, the index of the first task that names none,
// or, when tasks name different operations, the index of the first task
// that names another operation than the first.
func classify(tasks []Task) (model, string, int) {
	id, named, unnamed, firstUnnamed, other := "", 0, 0, -1, -1
	for i, t := range tasks {
		switch {
		case t.OperationID == "":
			if unnamed == 0 {
				firstUnnamed = i
			}
			unnamed++
		case named == 0:
			id = t.OperationID
			named++
		default:
			if other < 0 && t.OperationID != id {
				other = i
			}
			named++
		}
	}
	switch {
	case named == 0:
		return noModel, "", -1
	case unnamed > 0:
		return mixed, id, firstUnnamed
	case other >= 0:
		return twoOps, id, other
	}
	return oneModel, id, -1
}

func (p *Projector) check(ctx context.Context, applyID string, needOps bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.applies == nil {
		return storage.Invalid("applies", "nil ApplyStore")
	}
	if needOps && p.ops == nil {
		return storage.Invalid("ops", "nil OperationStore")
	}
	return storage.ValidateKey("applyID", applyID)
}

// Drive folds one deployment's fresh task states into its apply:
//
//  1. The operation's state is Derive(task states). Every task names the
//     operation it belongs to (OperationID), and all of them the same one:
//     a Drive reports one deployment.
//  2. Without an operation store the tasks' state is the apply's (it may
//     terminalize), whatever operation the tasks name. With one, tasks that name no
//     operation take this path only when the apply has no operation rows.
//  3. Tasks that name no operation although the apply has operation rows,
//     named tasks mixed with unnamed ones, tasks that name two different
//     operations, and an OperationID the apply does not have are caller
//     bugs: the error matches storage.ErrInvalid, names the field (for
//     example "tasks[0].OperationID", or "tasks[2].OperationID" for the
//     first task naming another operation than tasks[0]), and nothing is
//     written (tasks of two operations, and mixed ones, are refused before
//     any store call).
//  4. A terminal apply is returned as stored: no row is written.
//  5. With a model, the operation row is written by compare-and-swap
//     (State; ErrorMessage from the first failed task; StartedAt once, when
//     a pending report claims the start or the row leaves pending;
//     CompletedAt when settled) unless the move is refused: a settled
//     operation never changes again, a stopped one only moves to a settled
//     state, and a started one never returns to pending. A refused move
//     writes nothing and is no error; the stored row is projected instead.
//     Then every operation of the apply is read, the row folded in, and the
//     apply projected with [Rollout]. A list error is returned and a listing without the
//     operation is Undetermined; either way the apply is not written and
//     the row stays unacknowledged, so the next poll projects it.
//  6. The apply is written only by compare-and-swap, retrying the whole
//     read → project → write round on a conflict; a terminal apply is never
//     overwritten, and nothing is written when nothing changed. After a
//     write error the apply is read back to tell whether the write landed
//     (see Lost responses in the package documentation; an undecidable
//     write is an error matching [ErrAmbiguous]).
//  7. Under [WithLease] every round first checks that the row it read
//     holds the lease's owner and token, and every row write (the
//     report, a claim, its give-back, the acknowledgement) is a
//     compare-and-swap of that read: once another acquisition landed, the
//     call returns an error matching [ErrNotOwner] and stores nothing it
//     reports. Without a lease the same holds for an operation that was
//     ever acquired (its OwnerToken is not 0); one never acquired is
//     driven as above. A lease whose Resume is set turns the [Proceed] a
//     pending report would get into [Resume]. A lease that names another
//     apply or operation than the tasks, or tasks without an operation,
//     are storage.ErrInvalid.
//
// A failed operation write returns its error and never writes the apply.
func (p *Projector) Drive(ctx context.Context, applyID string, tasks []Task, opts ...DriveOption) (Result, error) {
	if err := p.check(ctx, applyID, false); err != nil {
		return Result{}, err
	}
	var dc driveConfig
	for _, o := range opts {
		if o != nil {
			o(&dc)
		}
	}
	states := make([]State, len(tasks))
	failMsg, anyFailed := "", false
	for i, t := range tasks {
		if t.OperationID != "" {
			if err := storage.ValidateKey(fmt.Sprintf("tasks[%d].OperationID", i), t.OperationID); err != nil {
				return Result{}, err
			}
		}
		s, err := Parse(string(t.State))
		if err != nil {
			return Result{}, storage.Invalid(fmt.Sprintf("tasks[%d].State", i), "unknown state %q", t.State)
		}
		states[i] = s
		if s == Failed && !anyFailed {
			failMsg, anyFailed = truncate(t.ErrorMessage), true
		}
	}
	current := Derive(states...)
	authoritative := func(a storage.Apply) (decision, error) {
		msg := a.ErrorMessage
		if current == Failed {
			msg = failMsg
		}
		return decision{state: current, msg: msg}, nil
	}
	m, opID, at := classify(tasks)
	if m == twoOps {
		// One drive loop reports one deployment: tasks of two operations
		// are a caller bug, refused before any store call.
		return Result{}, storage.Invalid(fmt.Sprintf("tasks[%d].OperationID", at),
			"%q, but tasks[0] names operation %q: the tasks of one Drive belong to one operation", tasks[at].OperationID, opID)
	}
	if dc.lease != nil {
		if err := checkDriveLease(p, *dc.lease, applyID, m, opID); err != nil {
			return Result{}, err
		}
	}
	if p.ops == nil {
		return p.project(ctx, applyID, nil, authoritative)
	}
	switch m {
	case mixed:
		return Result{}, storage.Invalid(fmt.Sprintf("tasks[%d].OperationID", at),
			"empty, but other tasks name operation %q", opID)
	case noModel:
		// Operation rows are never deleted: once listed, the apply has
		// operations for good.
		ops, err := p.ops.ListOperations(ctx, applyID)
		if err != nil {
			return Result{}, fmt.Errorf("applystate: list operations of %q: %w", applyID, err)
		}
		if len(ops) > 0 {
			if len(tasks) == 0 {
				return Result{}, storage.Invalid("tasks", "no task names an operation, but apply %q has operations", applyID)
			}
			return Result{}, storage.Invalid("tasks[0].OperationID", "empty, but apply %q has operations", applyID)
		}
		return p.project(ctx, applyID, nil, authoritative)
	}
	return p.driveOperation(ctx, applyID, opID, current, failMsg, anyFailed, dc.lease)
}

func unknownOperation(i int, applyID, opID string) error {
	return storage.Invalid(fmt.Sprintf("tasks[%d].OperationID", i), "apply %q has no operation %q", applyID, opID)
}

// rollout projects the apply over its operations and returns the state and
// the aggregate error message.
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
	// write bumps its version, so a concurrent write computed from an
	// older listing fails its compare-and-swap (see the package
	// documentation, "Starts" and "Cost of a poll").
	force bool
}

// target computes the apply's next state and error message from the stored
// apply.
type target func(a storage.Apply) (decision, error)

// project runs the read → project → compare-and-swap loop. A non-nil
// first is the apply as the caller just read it, used by the first round
// instead of a read (the compare-and-swap catches any later change).
func (p *Projector) project(ctx context.Context, applyID string, first *storage.Apply, next target) (Result, error) {
	for attempt := 0; attempt < p.cfg.maxAttempts; attempt++ {
		var a storage.Apply
		if first != nil {
			a, first = *first, nil
		} else {
			var err error
			if a, err = p.applies.GetApply(ctx, applyID); err != nil {
				return Result{}, fmt.Errorf("applystate: get apply %q: %w", applyID, err)
			}
		}
		prev := Normalize(a.State)
		res := Result{Apply: a, Previous: prev, Next: nextOf(a)}
		if prev.Terminal() {
			return res, nil // a terminal apply is never overwritten
		}
		d, err := next(a)
		if err != nil {
			return Result{}, err
		}
		s, msg := d.state, d.msg
		if d.retry {
			continue
		}
		if d.undetermined {
			p.cfg.logger.DebugContext(ctx, "applystate: projection refused on incomplete information", "apply", applyID)
			res.Undetermined = true
			return res, nil
		}
		w := a
		w.State, w.ErrorMessage = string(s), msg
		now := p.now()
		if s != Pending && w.StartedAt.IsZero() {
			w.StartedAt = now
		}
		if s.Terminal() && s != Stopped && w.CompletedAt.IsZero() {
			w.CompletedAt = now
		}
		if !d.force && w.State == a.State && w.ErrorMessage == a.ErrorMessage &&
			w.StartedAt.Equal(a.StartedAt) && w.CompletedAt.Equal(a.CompletedAt) {
			return res, nil // no change, no write
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
		res = Result{Apply: written, Previous: prev, Changed: true, Terminalized: s.Terminal(), Next: nextOf(written)}
		if p.cfg.observer != nil {
			p.cfg.observer(ctx, res)
		}
		return res, nil
	}
	return Result{}, fmt.Errorf("applystate: write apply %q: %d attempts: %w", applyID, p.cfg.maxAttempts, storage.ErrConflict)
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

// outcome is what became of an apply write that returned an error.
type outcome int

const (
	// notLanded: the apply is still at the version the write expected;
	// the write has not landed (yet).
	notLanded outcome = iota
	// superseded: another write holds the version this one would have
	// created, or the apply moved on past it; this write is not the
	// apply's state.
	superseded
	// landed: the apply is this write.
	landed
)

// writeOutcome tells what became of w, written by compare-and-swap at
// version expected, from b, the apply read back after the write returned an
// error.
//
// A compare-and-swap at one version succeeds at most once, so b at version
// expected+1 is the one write that landed there; it is w exactly when b
// holds what w wrote, UpdatedAt included. Another caller could store an
// identical row only by projecting the same state from the same read and
// stamping it in the same microsecond; a Projector's own stamps never repeat
// ([Projector.stamp]), so that takes two Projectors whose clocks read the
// same microsecond.
//
// Past expected+1, a terminal w that landed is still the apply's projected
// state (a terminal apply is never rewritten; a later write of other fields,
// Payload for instance, keeps it), so b tells as well. A non-terminal w may
// have landed and been overwritten since: it is superseded either way, and
// the call goes on as after a conflict.
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

// reproject projects the apply over its stored operations only. While the
// listing holds a row not yet Projected, every round's apply write is
// forced, and only once a write has landed are the rows of the listing it
// was computed from acknowledged (Projected set by compare-and-swap).
//
// The acknowledgement relies on that write alone: it landed at the version
// read before its listing, so every later apply write read the apply after
// it landed — after that listing — and lists those rows. A version read in
// a later round may itself predate rows listed since (a write computed
// without them could still land there), so no round acknowledges without
// writing.
func (p *Projector) reproject(ctx context.Context, applyID string) (Result, error) {
	var listed []storage.Operation
	res, err := p.project(ctx, applyID, nil, func(a storage.Apply) (decision, error) {
		ops, err := p.ops.ListOperations(ctx, applyID)
		if err != nil {
			return decision{}, fmt.Errorf("applystate: list operations of %q: %w", applyID, err)
		}
		if len(ops) == 0 {
			return decision{undetermined: true}, nil
		}
		if wrote, err := p.finishStop(ctx, a, ops); err != nil || wrote {
			return decision{retry: true}, err
		}
		listed = ops
		s, msg := rollout(slices.Clone(ops), a)
		if s.Terminal() {
			if sealed, err := p.seal(ctx, ops); err != nil || !sealed {
				return decision{retry: true}, err
			}
		}
		unacked := slices.ContainsFunc(ops, func(op storage.Operation) bool { return !op.Projected })
		return decision{state: s, msg: msg, force: unacked}, nil
	})
	if err != nil || res.Undetermined || !res.Changed || Normalize(res.Apply.State).Terminal() {
		return res, err // rows are acknowledged only after a write of this call landed
	}
	for _, op := range listed {
		// A claim is acknowledged only by a Drive that checked it: its
		// acknowledgement grants the start (see granted).
		if !op.Projected && !claimed(op) {
			_, _ = p.acknowledge(ctx, op)
		}
	}
	return res, nil
}

// Reproject projects the apply over its stored operations only, with the
// same rules and writes as Drive. It repairs a crash between an operation
// write and the apply write, and finishes a Stop interrupted after it set
// StopRequested (operations still pending are moved to stopped first). An
// apply without operations is Undetermined. Rows not yet acknowledged
// (Projected false) are acknowledged once its apply write has landed.
func (p *Projector) Reproject(ctx context.Context, applyID string) (Result, error) {
	if err := p.check(ctx, applyID, true); err != nil {
		return Result{}, err
	}
	return p.reproject(ctx, applyID)
}

// setFlag sets StopRequested or PauseReleased by compare-and-swap and
// reports whether it wrote; a terminal apply is left alone. The write is
// stamped and read back after an error like a projection write
// ([Projector.casApply]), so a lost response is recognized as this call's
// write; one the read-back cannot tell is an error matching [ErrAmbiguous].
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

// Stop requests a stop: it sets StopRequested (compare-and-swap) and
// reprojects, which moves every unclaimed pending operation to stopped
// (compare-and-swap each) before it projects. Operations already started or
// claimed are left to their drive loops; once StopRequested is set a
// stopped operation, started or not, no longer holds its target, so the
// apply settles when every started operation has stopped or settled:
// stopped, or failed when an operation failed. A terminal apply is returned
// unchanged. Stop is idempotent: retry it after an error (Reproject finishes
// an interrupted Stop too).
func (p *Projector) Stop(ctx context.Context, applyID string) (Result, error) {
	if err := p.check(ctx, applyID, true); err != nil {
		return Result{}, err
	}
	before, wrote, err := p.setFlag(ctx, applyID, func(a *storage.Apply) bool {
		if a.StopRequested {
			return false
		}
		a.StopRequested = true
		return true
	})
	if err != nil {
		return Result{}, err
	}
	if prev := Normalize(before.State); prev.Terminal() {
		return Result{Apply: before, Previous: prev}, nil
	}
	res, err := p.reproject(ctx, applyID)
	res.Changed = res.Changed || wrote
	return res, err
}

// ReleasePause releases the failures that hold the rollout and reprojects:
// every failed operation whose policy is pause gets its release recorded
// beside the policy (its row's ReleasedAt is set by compare-and-swap;
// OnFailure stays pause, and its state, error message and timestamps
// stay), and the rollout counts a released failure as continue, so it goes
// on. A row an earlier version released by rewriting OnFailure to continue
// counts the same. A release applies to the failures it released: an
// operation that fails under pause later holds the rollout again, until
// the next ReleasePause. A PauseReleased
// flag set by an earlier version (which released every pause, later ones
// included) is honored until ReleasePause records the failures on their
// rows and clears it. A terminal apply is returned unchanged; Changed
// reports any write. Retry it after an error: it is idempotent.
func (p *Projector) ReleasePause(ctx context.Context, applyID string) (Result, error) {
	return p.releasePause(ctx, applyID)
}
