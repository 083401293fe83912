package batchstate

import (
	"log/slog"
	"slices"
	"time"

	"github.com/statefold/statefold/internal/hook"
	"github.com/statefold/statefold/internal/option"
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
// of List; it doubles after each attempt, up to [MaxListBackoff].
const DefaultListBackoff = 5 * time.Millisecond

// MaxListBackoff is the longest pause List makes between two attempts.
const MaxListBackoff = 250 * time.Millisecond

// DefaultReconcileLease is how long, by default, a Reconcile may hold a
// queue's lease before List callers and other Reconciles presume it
// crashed (see [WithReconcileLease]).
const DefaultReconcileLease = 30 * time.Second

// Option configures an [Orchestrator]. [New] reports a nil Option, and
// every option given a value it cannot use, as an error matching
// storage.ErrInvalid that names the option; no value is silently replaced.
type Option func(*config)

type config struct {
	clock        func() time.Time
	logger       *slog.Logger
	grace        time.Duration
	concurrency  int
	listAttempts int
	listBackoff  time.Duration
	lease        time.Duration
	indexes      []index
	finished     bool
	indexErr     error
	hooks        hook.Set
}

// defaults is the configuration of an Orchestrator built without options.
func defaults() config {
	return config{clock: time.Now, logger: slog.Default(), grace: DefaultDanglingGrace,
		concurrency: DefaultListConcurrency, listAttempts: DefaultListAttempts,
		listBackoff: DefaultListBackoff, lease: DefaultReconcileLease}
}

// WithClock sets the clock every timestamp is taken from (default
// time.Now). Times are stored in UTC, truncated to the microsecond. New
// rejects a nil clock.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithLogger sets where the orchestrator logs (default slog.Default()):
// routine outcomes at Debug, unexpected failures of best-effort writes at
// Warn. New rejects a nil logger.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithDanglingGrace sets how long a write may take between its index row
// and its batch row before Reconcile fences it off (default
// [DefaultDanglingGrace]). It decides only when Reconcile acts, never
// whether a removal is safe: a write fenced off fails, it is never lost.
// Choose it longer than the slowest Create or Transition, so that a
// merely slow write is not failed. New rejects d <= 0.
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
// pause up to [MaxListBackoff] (defaults [DefaultListAttempts] and
// [DefaultListBackoff]). A backoff of 0 reads again without a pause. New
// rejects attempts < 1 and a negative backoff.
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

// WithIndex declares an index called name: keys returns the keys a batch
// is filed under (the requests it holds, say), and [Orchestrator.Lookup]
// finds the batches stored with a key. keys must be a pure function of the
// batch, and must keep returning the keys it returned for the batches
// stored: a stored row's keys are what Lookup matches and what a write
// removes. A name is 1 to [MaxIndexNameBytes] ASCII letters, digits, '-',
// '_' or '.'; a key is a valid storage key of at most [MaxIndexKeyBytes]
// bytes, at most [MaxIndexKeys] of them per batch (duplicates count once);
// a write of a batch whose keys break these limits is storage.ErrInvalid
// and writes nothing. New rejects a bad name, a name declared twice and a
// nil keys.
func WithIndex(name string, keys func(storage.Batch) []string) Option {
	return func(c *config) {
		switch {
		case c.indexErr != nil:
		case keys == nil:
			c.indexErr = storage.Invalid("WithIndex", "index %q has nil keys", name)
		case slices.ContainsFunc(c.indexes, func(ix index) bool { return ix.name == name }):
			c.indexErr = storage.Invalid("WithIndex", "index %q declared twice", name)
		default:
			c.indexErr = checkIndexName(name)
			c.indexes = append(c.indexes, index{name: name, keys: keys})
		}
	}
}

// WithFinishedIndex files every batch that enters a terminal state under
// the UTC day of its UpdatedAt, so that [Orchestrator.ListFinished] can
// list them for audit. It costs one more AddMember per Create or
// Transition into a terminal state. Batches finished before the option
// was given are not filed.
func WithFinishedIndex() Option { return func(c *config) { c.finished = true } }

// check reports the first option value cfg cannot use, naming the option.
func (c config) check() error {
	if err := option.ClockAndLogger(c.clock, c.logger); err != nil {
		return err
	}
	switch {
	case c.indexErr != nil:
		return c.indexErr
	case c.grace <= 0:
		return storage.Invalid("WithDanglingGrace", "grace %s is not positive", c.grace)
	case c.concurrency < 1:
		return storage.Invalid("WithListConcurrency", "concurrency %d is not positive", c.concurrency)
	case c.listAttempts < 1:
		return storage.Invalid("WithListRetry", "attempts %d is not positive", c.listAttempts)
	case c.listBackoff < 0:
		return storage.Invalid("WithListRetry", "negative backoff %s", c.listBackoff)
	case c.lease <= 0:
		return storage.Invalid("WithReconcileLease", "lease %s is not positive", c.lease)
	}
	return nil
}
