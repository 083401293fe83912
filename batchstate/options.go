package batchstate

import (
	"log/slog"
	"time"
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
