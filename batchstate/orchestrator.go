package batchstate

import (
	"time"

	"github.com/statefold/statefold/internal/option"
	"github.com/statefold/statefold/storage"
)

// Orchestrator keeps a membership index beside a batch store. It is safe
// for concurrent use; it holds no state of its own besides configuration.
type Orchestrator struct {
	batches storage.BatchStore
	members storage.MembershipStore
	snap    storage.Snapshotter // the stores' one-snapshot read, if they offer it (see snapshotter)
	mover   storage.Mover       // the stores' one-statement move, if they offer it (see moverOf)
	pager   storage.MemberPager // the members store's page read, if it offers it
	m       Machine
	cfg     config
}

// New returns an Orchestrator for machine m over the two stores (usually
// the same storage.Store twice). A nil store, an invalid machine (see
// [Machine.Validate]), a nil Option and an option given a value it cannot
// use (each With function says which) are errors matching
// storage.ErrInvalid that name the store, the machine's field or the
// option.
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
	cfg, err := option.Configure(defaults(), opts, config.check)
	if err != nil {
		return nil, err
	}
	snap, mover := snapshotter(batches, members), moverOf(batches, members, cfg)
	pager, _ := members.(storage.MemberPager)
	batches, members = hooked(batches, members, cfg)
	return &Orchestrator{batches: batches, members: members, snap: snap, pager: pager, mover: mover, m: m.clone(), cfg: cfg}, nil
}

// Machine returns a copy of the orchestrator's machine.
func (o *Orchestrator) Machine() Machine { return o.m.clone() }

func (o *Orchestrator) now() time.Time {
	return o.cfg.clock().UTC().Truncate(time.Microsecond)
}
