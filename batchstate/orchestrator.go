package batchstate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/statefold/statefold/storage"
)

// DefaultDanglingGrace is how long Reconcile keeps a row whose batch does
// not exist, by default: long enough for any in-flight Create to finish.
const DefaultDanglingGrace = 10 * time.Minute

// Option configures an [Orchestrator].
type Option func(*config)

// DefaultListConcurrency is how many buckets List and Reconcile read at
// once, by default.
const DefaultListConcurrency = 8

type config struct {
	clock       func() time.Time
	logger      *slog.Logger
	grace       time.Duration
	concurrency int
}

// WithClock sets the clock every timestamp is taken from (default
// time.Now). Times are stored in UTC, truncated to the microsecond.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithLogger sets where best-effort failures (a row that could not be
// removed) are logged (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithDanglingGrace sets how old a row whose batch does not exist must be
// before Reconcile removes it (default [DefaultDanglingGrace]). It must be
// longer than the slowest Create, retries included; New rejects a negative
// grace.
func WithDanglingGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// WithListConcurrency bounds how many buckets (one ListMembers call per
// state) List and Reconcile read at once (default
// [DefaultListConcurrency]). New rejects n < 1.
func WithListConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

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
// [Machine.Validate]), a nil clock, a negative grace and a concurrency
// below 1 are storage.ErrInvalid.
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
	cfg := config{clock: time.Now, grace: DefaultDanglingGrace, concurrency: DefaultListConcurrency}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.clock == nil {
		return nil, storage.Invalid("WithClock", "nil clock")
	}
	if cfg.grace < 0 {
		return nil, storage.Invalid("WithDanglingGrace", "negative grace %s", cfg.grace)
	}
	if cfg.concurrency < 1 {
		return nil, storage.Invalid("WithListConcurrency", "concurrency %d is not positive", cfg.concurrency)
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

// Create stores a new batch in b.State with Version 1, CreatedAt and
// UpdatedAt from the clock. If the state is not terminal, the membership row
// is added first; if that fails nothing is created. If the batch write
// fails (storage.ErrAlreadyExists included) the error is returned and the
// row is kept: the write may have landed, and a row without a batch is
// skipped by List and removed by Reconcile after the grace period.
func (o *Orchestrator) Create(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	if err := ctx.Err(); err != nil {
		return storage.Batch{}, err
	}
	if err := storage.ValidateBatch(b); err != nil {
		return storage.Batch{}, err
	}
	if !o.m.Known(b.State) {
		return storage.Batch{}, storage.Invalid("batch.State", "unknown state %q", b.State)
	}
	now := o.now()
	b.Version, b.CreatedAt, b.UpdatedAt = 0, now, now
	if !o.m.IsTerminal(b.State) {
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
// last read: b.Version is the expected version and b's other fields
// (Payload included) are written. If to is not terminal its membership row
// is added first, with version b.Version+1. On failure the original b is
// returned with the error (a lost race matches storage.ErrConflict); the
// added row stays and is filtered on read. On success the row of the
// previous state is removed best-effort, only if its version is at most
// b.Version, so a batch that concurrently re-entered that state keeps it.
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
	if !o.m.IsTerminal(to) {
		m := storage.Member{Queue: b.Queue, State: to, BatchID: b.ID, Version: b.Version + 1, AddedAt: now}
		if err := o.members.AddMember(ctx, m); err != nil {
			return b, fmt.Errorf("batchstate: transition %q %q → %q: add member: %w", b.ID, b.State, to, err)
		}
	}
	updated, err := o.batches.UpdateBatch(ctx, next, b.Version)
	if err != nil {
		return b, fmt.Errorf("batchstate: transition %q %q → %q: %w", b.ID, b.State, to, err)
	}
	if b.State != to {
		o.removeBestEffort(ctx, b.Queue, b.State, b.ID, b.Version, "transition")
	}
	return updated, nil
}

func (o *Orchestrator) validateTransition(b storage.Batch, to string) error {
	if err := storage.ValidateBatch(b); err != nil {
		return err
	}
	if err := storage.ValidateVersion("batch.Version", b.Version); err != nil {
		return err
	}
	switch {
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

// resolve reads every batch named by rows with one GetBatches call.
func (o *Orchestrator) resolve(ctx context.Context, queue string, rows [][]storage.Member) (map[string]storage.Batch, []string, error) {
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
	found := make(map[string]storage.Batch, len(ids))
	if len(ids) == 0 {
		return found, nil, nil
	}
	batches, err := o.batches.GetBatches(ctx, queue, ids)
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

// List returns the batches of queue whose stored state is one of states,
// each once, ordered by (CreatedAt, ID). States must be known and
// non-terminal. Every candidate row is resolved with one GetBatches call; a
// row whose batch is now terminal is removed best-effort, a row whose batch
// does not exist is skipped and kept (it may belong to an in-flight Create).
func (o *Orchestrator) List(ctx context.Context, queue string, states ...string) ([]storage.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	states, err := o.checkQueueStates(queue, states)
	if err != nil {
		return nil, err
	}
	rows, err := o.bucketRows(ctx, queue, states)
	if err != nil {
		return nil, err
	}
	found, ids, err := o.resolve(ctx, queue, rows)
	if err != nil {
		return nil, err
	}
	out := make([]storage.Batch, 0, len(ids))
	for _, id := range ids {
		b, ok := found[id]
		if ok && slices.Contains(states, b.State) {
			out = append(out, b)
		}
	}
	for i, rs := range rows {
		for _, r := range rs {
			if b, ok := found[r.BatchID]; ok && o.m.IsTerminal(b.State) {
				o.removeBestEffort(ctx, queue, states[i], r.BatchID, b.Version, "list")
			}
		}
	}
	slices.SortFunc(out, func(a, b storage.Batch) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// ReconcileReport says what one Reconcile did. Every row read is counted
// once: Scanned = RemovedTerminal + RemovedStale + RemovedDangling + Kept.
type ReconcileReport struct {
	// Scanned is the number of index rows read.
	Scanned int
	// RemovedTerminal counts rows removed because their batch is terminal.
	RemovedTerminal int
	// RemovedStale counts rows removed because their batch is in another
	// state and the write that added the row is over: the batch's version
	// is at least the row's, or the row was left by a transition that never
	// landed and is older than the grace period (see [Orchestrator.Reconcile]).
	RemovedStale int
	// RemovedDangling counts rows removed because their batch does not exist
	// and they are older than the grace period.
	RemovedDangling int
	// Kept counts rows left in place: live rows, rows of transitions that
	// may still be in flight, dangling rows within the grace period, and
	// rows whose removal failed.
	Kept int
	// Unresolved lists, once each and in scan order, the ids of rows whose
	// batch does not exist (removed or kept).
	Unresolved []string
}

// Reconcile scans every non-terminal bucket of queue, resolves every
// candidate with one GetBatches call, and removes:
//
//   - rows of terminal batches (maxVersion = the batch's version);
//   - stale rows: the batch is in another state and its version is at
//     least the row's, so the transition that added the row is over
//     (maxVersion = the batch's version, so a row re-added by a newer
//     transition into that state survives);
//   - dangling rows: the batch does not exist and the row is older than the
//     grace period (maxVersion = the row's version).
//
// A row one version ahead of its batch, in a state the batch is not in, is
// the mark of a transition whose compare-and-swap has not landed: it is
// kept within the grace period. Past it, the transition is presumed
// crashed, and Reconcile fences it off by rewriting the batch unchanged
// (UpdateBatch with the version it read, which bumps Version and nothing
// else): the crashed transition's compare-and-swap can then never succeed,
// the row is stale by the rule above and is removed. If the fence loses
// its compare-and-swap, the batch moved meanwhile and the row is kept for
// the next Reconcile. Rows further ahead of their batch are kept.
//
// A failed write (a removal or a fence) is counted as kept and reported in
// the returned error, joined; the scan goes on. Reading errors end the call
// before any write.
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
	unresolved := make(map[string]bool)
	var errs []error
	remove := func(state string, r storage.Member, maxVersion int64, counter *int) {
		if err := o.members.RemoveMember(ctx, queue, state, r.BatchID, maxVersion); err != nil {
			errs = append(errs, fmt.Errorf("batchstate: reconcile: remove %q from %q: %w", r.BatchID, state, err))
			rep.Kept++
			return
		}
		*counter++
	}
	for i, rs := range rows {
		state := states[i]
		for _, r := range rs {
			rep.Scanned++
			b, ok := found[r.BatchID]
			pastGrace := now.Sub(r.AddedAt) > o.cfg.grace
			switch {
			case !ok:
				if !unresolved[r.BatchID] {
					unresolved[r.BatchID] = true
					rep.Unresolved = append(rep.Unresolved, r.BatchID)
				}
				if pastGrace {
					remove(state, r, r.Version, &rep.RemovedDangling)
				} else {
					rep.Kept++
				}
			case o.m.IsTerminal(b.State):
				remove(state, r, b.Version, &rep.RemovedTerminal)
			case b.State == state:
				rep.Kept++ // the live row
			case b.Version >= r.Version:
				remove(state, r, b.Version, &rep.RemovedStale)
			case r.Version == b.Version+1 && pastGrace:
				fenced, err := o.batches.UpdateBatch(ctx, b, b.Version)
				switch {
				case errors.Is(err, storage.ErrConflict):
					rep.Kept++ // the batch moved meanwhile: decide next time
				case err != nil:
					errs = append(errs, fmt.Errorf("batchstate: reconcile: fence %q at version %d: %w", b.ID, b.Version, err))
					rep.Kept++
				default:
					found[b.ID] = fenced
					remove(state, r, fenced.Version, &rep.RemovedStale)
				}
			default:
				rep.Kept++ // a transition that may still be in flight
			}
		}
	}
	return rep, errors.Join(errs...)
}
