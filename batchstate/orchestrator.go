package batchstate

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/statefold/statefold/storage"
)

// DefaultDanglingGrace is how long Reconcile waits, by default, before it
// fences off a write that started and has not finished: a Create whose
// batch does not exist yet, or a Transition whose compare-and-swap has not
// landed.
const DefaultDanglingGrace = 10 * time.Minute

// DefaultListConcurrency is how many buckets List and Reconcile read at
// once, by default.
const DefaultListConcurrency = 8

// DefaultListAttempts is how many times, by default, List reads the index
// before it gives up because a Reconcile kept removing rows meanwhile.
const DefaultListAttempts = 8

// DefaultListBackoff is the first pause, by default, between two attempts
// of List; it doubles after each attempt, up to a quarter of a second.
const DefaultListBackoff = 5 * time.Millisecond

// DefaultReconcileLease is how long, by default, a Reconcile may hold a
// queue's lease before List callers and other Reconciles presume it
// crashed (see [WithReconcileLease]).
const DefaultReconcileLease = 30 * time.Second

// Abandoned is the state of a tombstone: a batch row that Reconcile writes
// in place of a batch whose Create never finished (see
// [Orchestrator.Reconcile]). It is terminal, it is not one of any
// Machine's states (Machine.Validate rejects it), and its row stops a late
// CreateBatch of that id: the late Create fails with
// storage.ErrAlreadyExists, so the id cannot be used again.
const Abandoned = "statefold:abandoned"

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

// Option configures an [Orchestrator].
type Option func(*config)

type config struct {
	clock        func() time.Time
	logger       *slog.Logger
	grace        time.Duration
	concurrency  int
	listAttempts int
	listBackoff  time.Duration
	lease        time.Duration
}

// WithClock sets the clock every timestamp is taken from (default
// time.Now). Times are stored in UTC, truncated to the microsecond.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithLogger sets where the orchestrator logs (default slog.Default()):
// routine outcomes at Debug, unexpected failures of best-effort writes at
// Warn.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithDanglingGrace sets how long a write may take between its index row
// and its batch row before Reconcile fences it off (default
// [DefaultDanglingGrace]). It decides only when Reconcile acts, never
// whether a removal is safe: a write fenced off fails, it is never lost.
// Choose it longer than the slowest Create or Transition, so that a
// merely slow write is not failed. New rejects a negative grace.
func WithDanglingGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// WithListConcurrency bounds how many buckets (one ListMembers call per
// state) List and Reconcile read at once (default
// [DefaultListConcurrency]). 1 reads them one after the other, in the
// order given. New rejects n < 1.
func WithListConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

// WithListRetry sets how many times List reads the index before it gives
// up because a Reconcile was removing rows meanwhile, and the first pause
// before reading again while a Reconcile holds the lease (a List that a
// finished Reconcile overlapped reads again at once), doubled after each
// pause up to a quarter of a second
// (defaults [DefaultListAttempts] and [DefaultListBackoff]). New rejects
// attempts < 1 and a negative backoff.
func WithListRetry(attempts int, backoff time.Duration) Option {
	return func(c *config) { c.listAttempts, c.listBackoff = attempts, backoff }
}

// WithReconcileLease sets how long a Reconcile may hold a queue's lease
// (default [DefaultReconcileLease]). A Reconcile stops removing rows once
// it has held the lease for half of it; a lease held longer than d is
// presumed to belong to a crashed Reconcile: List stops waiting for it and
// another Reconcile may take it over. So a Reconcile that crashes while
// holding the lease makes List return storage.ErrConflict for at most d.
// New rejects d <= 0.
func WithReconcileLease(d time.Duration) Option { return func(c *config) { c.lease = d } }

// Orchestrator keeps a membership index beside a batch store. It is safe
// for concurrent use; it holds no state of its own besides configuration.
type Orchestrator struct {
	batches storage.BatchStore
	members storage.MembershipStore
	m       Machine
	cfg     config
}

// New returns an Orchestrator for machine m over the two stores (usually
// the same storage.Store twice). Nil stores, an invalid machine (see
// [Machine.Validate]), a nil clock, a negative grace, a concurrency below
// 1 and bad list retries are storage.ErrInvalid.
func New(batches storage.BatchStore, members storage.MembershipStore, m Machine, opts ...Option) (*Orchestrator, error) {
	if batches == nil {
		return nil, storage.Invalid("batches", "nil BatchStore")
	}
	if members == nil {
		return nil, storage.Invalid("members", "nil MembershipStore")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	cfg := config{clock: time.Now, grace: DefaultDanglingGrace, concurrency: DefaultListConcurrency,
		listAttempts: DefaultListAttempts, listBackoff: DefaultListBackoff, lease: DefaultReconcileLease}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.clock == nil:
		return nil, storage.Invalid("WithClock", "nil clock")
	case cfg.grace < 0:
		return nil, storage.Invalid("WithDanglingGrace", "negative grace %s", cfg.grace)
	case cfg.concurrency < 1:
		return nil, storage.Invalid("WithListConcurrency", "concurrency %d is not positive", cfg.concurrency)
	case cfg.listAttempts < 1:
		return nil, storage.Invalid("WithListRetry", "attempts %d is not positive", cfg.listAttempts)
	case cfg.listBackoff < 0:
		return nil, storage.Invalid("WithListRetry", "negative backoff %s", cfg.listBackoff)
	case cfg.lease <= 0:
		return nil, storage.Invalid("WithReconcileLease", "lease %s is not positive", cfg.lease)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	return &Orchestrator{batches: batches, members: members, m: m.clone(), cfg: cfg}, nil
}

// Machine returns a copy of the orchestrator's machine.
func (o *Orchestrator) Machine() Machine { return o.m.clone() }

func (o *Orchestrator) now() time.Time {
	return o.cfg.clock().UTC().Truncate(time.Microsecond)
}

// final reports whether s is a state a batch never leaves: a terminal state
// of the machine, or [Abandoned].
func (o *Orchestrator) final(s string) bool { return s == Abandoned || o.m.IsTerminal(s) }

// Create stores a new batch in b.State with Version 1, CreatedAt and
// UpdatedAt from the clock. If the state is not terminal, the index row is
// added first; if that fails nothing is created (a newer row for the id
// is storage.ErrConflict: the id has been used). If the batch write fails
// the error is returned and the row is kept: the write may have landed.
//
// Create either returns an error or its batch is listed: if Reconcile
// finds the row without its batch after the grace period, it writes an
// [Abandoned] tombstone under the id first, so a late CreateBatch fails
// with storage.ErrAlreadyExists instead of storing a batch whose row is
// gone. After an error, read the batch: if it exists in the state asked
// for, the create landed; if it is Abandoned, create under a new id.
func (o *Orchestrator) Create(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	if err := ctx.Err(); err != nil {
		return storage.Batch{}, err
	}
	if err := storage.ValidateBatch(b); err != nil {
		return storage.Batch{}, err
	}
	if b.ID == LeaseID {
		return storage.Batch{}, storage.Invalid("batch.ID", "id %q is reserved", b.ID)
	}
	if !o.m.Known(b.State) {
		return storage.Batch{}, storage.Invalid("batch.State", "unknown state %q", b.State)
	}
	now := o.now()
	b.Version, b.CreatedAt, b.UpdatedAt = 0, now, now
	if !o.final(b.State) {
		m := storage.Member{Queue: b.Queue, State: b.State, BatchID: b.ID, Version: 1, AddedAt: now}
		if err := o.members.AddMember(ctx, m); err != nil {
			return storage.Batch{}, fmt.Errorf("batchstate: create %q: add member %q: %w", b.ID, b.State, err)
		}
	}
	created, err := o.batches.CreateBatch(ctx, b)
	if err != nil {
		return storage.Batch{}, fmt.Errorf("batchstate: create %q: %w", b.ID, err)
	}
	return created, nil
}

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

func (o *Orchestrator) removeBestEffort(ctx context.Context, queue, state, id string, maxVersion int64, why string) bool {
	if err := o.members.RemoveMember(ctx, queue, state, id, maxVersion); err != nil {
		o.cfg.logger.WarnContext(ctx, "batchstate: best-effort membership removal failed",
			"op", why, "queue", queue, "state", state, "batch", id, "max_version", maxVersion, "err", err)
		return false
	}
	return true
}

// checkQueueStates validates a queue and a list of non-terminal states and
// returns the states deduplicated, in the order given.
func (o *Orchestrator) checkQueueStates(queue string, states []string) ([]string, error) {
	if err := storage.ValidateKey("queue", queue); err != nil {
		return nil, err
	}
	if len(states) == 0 {
		return nil, storage.Invalid("states", "no state to list")
	}
	out := make([]string, 0, len(states))
	for _, s := range states {
		switch {
		case !o.m.Known(s):
			return nil, storage.Invalid("states", "unknown state %q", s)
		case o.m.IsTerminal(s):
			return nil, storage.Invalid("states", "terminal state %q is not indexed", s)
		case !slices.Contains(out, s):
			out = append(out, s)
		}
	}
	return out, nil
}

// bucketRows lists the rows of every state, at most cfg.concurrency at
// once; rows[i] belongs to states[i].
func (o *Orchestrator) bucketRows(ctx context.Context, queue string, states []string) ([][]storage.Member, error) {
	rows := make([][]storage.Member, len(states))
	if o.cfg.concurrency == 1 {
		for i, s := range states {
			var err error
			if rows[i], err = o.members.ListMembers(ctx, queue, s); err != nil {
				return nil, fmt.Errorf("batchstate: list members %q: %w", s, err)
			}
		}
		return rows, nil
	}
	errs := make([]error, len(states))
	sem := make(chan struct{}, o.cfg.concurrency)
	var wg sync.WaitGroup
	for i, s := range states {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rows[i], errs[i] = o.members.ListMembers(ctx, queue, s)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("batchstate: list members %q: %w", s, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rows, nil
}

// resolve reads every batch named by rows, and the extra ids, with one
// GetBatches call; ids lists the batch ids of rows, once each, in order.
func (o *Orchestrator) resolve(ctx context.Context, queue string, rows [][]storage.Member, extra ...string) (map[string]storage.Batch, []string, error) {
	var ids []string
	seen := make(map[string]bool)
	for _, rs := range rows {
		for _, r := range rs {
			if !seen[r.BatchID] {
				seen[r.BatchID] = true
				ids = append(ids, r.BatchID)
			}
		}
	}
	found := make(map[string]storage.Batch, len(ids)+len(extra))
	all := append(slices.Clip(ids), extra...)
	if len(all) == 0 {
		return found, nil, nil
	}
	for _, id := range extra {
		seen[id] = true
	}
	batches, err := o.batches.GetBatches(ctx, queue, all)
	if err != nil {
		return nil, nil, fmt.Errorf("batchstate: get batches: %w", err)
	}
	for _, b := range batches {
		if b.Queue == queue && seen[b.ID] {
			found[b.ID] = b
		}
	}
	return found, ids, nil
}

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

// List returns the batches of queue whose stored state is one of states,
// each once, ordered by (CreatedAt, ID). States must be known and
// non-terminal.
//
// A batch stored in a requested state at every instant of the call is
// returned, even if it moves between requested states meanwhile; every
// batch returned was stored in a requested state, as returned, at some
// instant of the call. List reads the queue's lease row, every bucket, and
// then every candidate batch together with the lease row again in one
// GetBatches call; if a Reconcile held the lease or took it meanwhile, the
// rows it removed may have hidden a batch, and List reads again (see
// [WithListRetry]). When every attempt overlapped a Reconcile, List
// returns an error matching storage.ErrConflict rather than a result that
// may miss a batch. On a quiet queue a List costs one GetBatch, one
// ListMembers per state and one GetBatches.
//
// Rows of batches found terminal are removed, best-effort; a row whose
// batch does not exist is skipped and kept (it may belong to a Create in
// flight).
func (o *Orchestrator) List(ctx context.Context, queue string, states ...string) ([]storage.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	states, err := o.checkQueueStates(queue, states)
	if err != nil {
		return nil, err
	}
	backoff := o.cfg.listBackoff
	for attempt := 1; ; attempt++ {
		out, rows, found, res, err := o.listOnce(ctx, queue, states)
		if err != nil {
			return nil, err
		}
		if res == listDone {
			for i, rs := range rows {
				for _, r := range rs {
					if b, ok := found[r.BatchID]; ok && o.final(b.State) {
						o.removeBestEffort(ctx, queue, states[i], r.BatchID, math.MaxInt64, "list")
					}
				}
			}
			return out, nil
		}
		if attempt >= o.cfg.listAttempts {
			return nil, fmt.Errorf("batchstate: list %q: a Reconcile removed index rows during each of %d attempts: %w",
				queue, attempt, storage.ErrConflict)
		}
		o.cfg.logger.DebugContext(ctx, "batchstate: list overlapped a Reconcile; reading again", "queue", queue, "attempt", attempt)
		if res == listHeld && backoff > 0 {
			// A Reconcile is removing rows right now: give it time.
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			backoff = min(2*backoff, 250*time.Millisecond)
		}
	}
}

// The outcomes of one attempt of List.
type listResult int

const (
	listDone    listResult = iota // no Reconcile overlapped: the result stands
	listHeld                      // a Reconcile holds the lease: wait, then read again
	listChanged                   // a Reconcile came and went: read again at once
)

// listOnce is one attempt of List.
func (o *Orchestrator) listOnce(ctx context.Context, queue string, states []string) (out []storage.Batch, rows [][]storage.Member, found map[string]storage.Batch, res listResult, err error) {
	lease, lerr := o.batches.GetBatch(ctx, queue, LeaseID)
	if lerr != nil && !errors.Is(lerr, storage.ErrNotFound) {
		return nil, nil, nil, 0, fmt.Errorf("batchstate: list %q: read lease: %w", queue, lerr)
	}
	before := o.view(lease, lerr == nil, o.now())
	if before.held {
		return nil, nil, nil, listHeld, nil
	}
	if rows, err = o.bucketRows(ctx, queue, states); err != nil {
		return nil, nil, nil, 0, err
	}
	found, ids, err := o.resolve(ctx, queue, rows, LeaseID)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	lease, present := found[LeaseID]
	if after := o.view(lease, present, o.now()); after != before {
		if after.held {
			return nil, nil, nil, listHeld, nil
		}
		return nil, nil, nil, listChanged, nil
	}
	out = make([]storage.Batch, 0, len(ids))
	for _, id := range ids {
		b, ok := found[id]
		if ok && slices.Contains(states, b.State) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b storage.Batch) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, rows, found, listDone, nil
}

// ReconcileReport says what one Reconcile did. Every row read is counted
// once: Scanned = RemovedTerminal + RemovedStale + RemovedDangling + Kept.
type ReconcileReport struct {
	// Scanned is the number of index rows read.
	Scanned int
	// RemovedTerminal counts rows removed because their batch is terminal
	// (or Abandoned).
	RemovedTerminal int
	// RemovedStale counts rows removed because their batch is in another
	// state and the write that added the row is over: the batch's version
	// is at least the row's, or Reconcile fenced the write off.
	RemovedStale int
	// RemovedDangling counts rows removed because their batch never came
	// to exist: Reconcile wrote an Abandoned tombstone under the id.
	RemovedDangling int
	// Fenced counts batches Reconcile rewrote unchanged (a new Version) to
	// fence off a transition that did not finish within the grace period,
	// and tombstones it wrote for creates that did not.
	Fenced int
	// Kept counts rows left in place: live rows, rows of writes that may
	// still be in flight, rows whose removal failed, and rows of live
	// batches left for the next Reconcile because another Reconcile held
	// the queue's lease.
	Kept int
	// Unresolved lists, once each and in scan order, the ids of rows whose
	// batch did not exist when the scan read it.
	Unresolved []string
}

// errLeaseBusy reports that another Reconcile holds the queue's lease.
var errLeaseBusy = errors.New("batchstate: the queue's reconcile lease is held")

// Reconcile scans every non-terminal bucket of queue, resolves every
// candidate with one GetBatches call, and brings the index back to one row
// per live batch:
//
//   - rows of terminal (or Abandoned) batches are removed;
//   - stale rows — the batch is in another state and its version is at
//     least the row's, so the write that added the row is over — are
//     removed with maxVersion = the batch's version, so a row re-added by
//     a newer transition into that state survives;
//   - a row ahead of its batch, in a state the batch is not in, was added
//     by a transition whose compare-and-swap has not landed. Within the
//     grace period it is kept. Past it, Reconcile fences the transition
//     off by rewriting the batch unchanged (UpdateBatch with the version
//     and state it read, which bumps Version and nothing else): the
//     transition's compare-and-swap can then never succeed, and the row is
//     removed;
//   - a row whose batch does not exist was added by a Create whose batch
//     write has not landed. Within the grace period it is kept. Past it,
//     Reconcile writes an [Abandoned] tombstone under the id (CreateBatch):
//     the late create then fails with storage.ErrAlreadyExists, and the
//     row is removed. If the tombstone's create reports that the batch
//     exists, the create landed meanwhile and the row is kept.
//
// So time only decides when Reconcile acts; what makes each removal safe
// is that the batch is final or that the write the row belonged to can no
// longer land.
//
// Removing the row of a live batch from a state it has left could hide the
// batch from a List that read its new state's bucket just before the batch
// moved there. Reconcile therefore removes such rows only while it holds
// the queue's lease (a reserved batch row, [LeaseID], taken and released
// by compare-and-swap), and List reads again when the lease was held or
// taken during its reads. A lease held for longer than its duration
// ([WithReconcileLease]) is presumed abandoned by a crashed Reconcile and
// may be taken over; a Reconcile stops removing once it has held the lease
// for half its duration. If another Reconcile holds the lease, those rows
// are kept for the next run.
//
// A failed write (a removal, a fence, a tombstone, the lease) is counted as
// kept and reported in the returned error, joined; the scan goes on.
// Reading errors end the call before any write.
func (o *Orchestrator) Reconcile(ctx context.Context, queue string) (ReconcileReport, error) {
	var rep ReconcileReport
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if err := storage.ValidateKey("queue", queue); err != nil {
		return rep, err
	}
	states := o.m.NonTerminal()
	rows, err := o.bucketRows(ctx, queue, states)
	if err != nil {
		return rep, err
	}
	found, _, err := o.resolve(ctx, queue, rows)
	if err != nil {
		return rep, err
	}
	now := o.now()
	missing := make(map[string]bool)
	var errs []error
	remove := func(state string, r storage.Member, maxVersion int64, counter *int) {
		if err := o.members.RemoveMember(ctx, queue, state, r.BatchID, maxVersion); err != nil {
			errs = append(errs, fmt.Errorf("batchstate: reconcile: remove %q from %q: %w", r.BatchID, state, err))
			rep.Kept++
			return
		}
		*counter++
	}
	type pending struct {
		state      string
		row        storage.Member
		maxVersion int64
	}
	var live []pending // removals that need the lease
	for i, rs := range rows {
		state := states[i]
		for _, r := range rs {
			rep.Scanned++
			b, ok := found[r.BatchID]
			pastGrace := now.Sub(r.AddedAt) > o.cfg.grace
			if !ok && !missing[r.BatchID] {
				missing[r.BatchID] = true
				rep.Unresolved = append(rep.Unresolved, r.BatchID)
			}
			switch {
			case !ok && !pastGrace:
				rep.Kept++ // a Create that may still be in flight
			case !ok:
				tomb, err := o.tombstone(ctx, queue, r.BatchID)
				switch {
				case errors.Is(err, storage.ErrAlreadyExists):
					rep.Kept++ // the create landed meanwhile: decide next time
				case err != nil:
					errs = append(errs, err)
					rep.Kept++
				default:
					rep.Fenced++
					found[r.BatchID] = tomb
					remove(state, r, math.MaxInt64, &rep.RemovedDangling)
				}
			case o.final(b.State):
				if missing[r.BatchID] {
					remove(state, r, math.MaxInt64, &rep.RemovedDangling)
				} else {
					remove(state, r, math.MaxInt64, &rep.RemovedTerminal)
				}
			case b.State == state:
				rep.Kept++ // the live row
			case b.Version >= r.Version:
				live = append(live, pending{state, r, b.Version})
			case pastGrace:
				fenced, err := o.batches.UpdateBatch(ctx, b, b.Version, b.State)
				switch {
				case errors.Is(err, storage.ErrConflict):
					rep.Kept++ // the batch moved meanwhile: decide next time
				case err != nil:
					errs = append(errs, fmt.Errorf("batchstate: reconcile: fence %q at version %d: %w", b.ID, b.Version, err))
					rep.Kept++
				default:
					rep.Fenced++
					found[b.ID] = fenced
					live = append(live, pending{state, r, r.Version})
				}
			default:
				rep.Kept++ // a transition that may still be in flight
			}
		}
	}
	if len(live) == 0 {
		return rep, errors.Join(errs...)
	}
	lease, err := o.holdLease(ctx, queue)
	if err != nil {
		rep.Kept += len(live)
		if errors.Is(err, errLeaseBusy) {
			o.cfg.logger.DebugContext(ctx, "batchstate: reconcile: another Reconcile holds the lease; stale rows kept",
				"queue", queue, "rows", len(live))
			return rep, errors.Join(errs...)
		}
		return rep, errors.Join(append(errs, err)...)
	}
	held := o.now()
	for i, p := range live {
		if o.now().Sub(held) > o.cfg.lease/2 {
			rep.Kept += len(live) - i
			errs = append(errs, fmt.Errorf("batchstate: reconcile %q: held the lease for half its duration; %d rows kept", queue, len(live)-i))
			break
		}
		remove(p.state, p.row, p.maxVersion, &rep.RemovedStale)
	}
	if err := o.releaseLease(ctx, queue, lease); err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

// tombstone writes an Abandoned batch under id.
func (o *Orchestrator) tombstone(ctx context.Context, queue, id string) (storage.Batch, error) {
	now := o.now()
	tomb, err := o.batches.CreateBatch(ctx, storage.Batch{Queue: queue, ID: id, State: Abandoned, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		return storage.Batch{}, fmt.Errorf("batchstate: reconcile: abandon %q: %w", id, err)
	}
	o.cfg.logger.DebugContext(ctx, "batchstate: reconcile abandoned a create that did not finish", "queue", queue, "batch", id)
	return tomb, nil
}

// holdLease takes the queue's lease: creates it held, or moves it from
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
