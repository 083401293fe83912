package batchstate

import (
	"log/slog"
	"time"

	"github.com/statefold/statefold/storage"
)

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
