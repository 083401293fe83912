package applystate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/storage"
)

// DefaultShards is the number of shards of the open-applies index when
// [WithDiscovery] is given 0.
const DefaultShards = 16

// MaxShards is the most shards [WithDiscovery] accepts.
const MaxShards = 256

// MaxNamespaceBytes is the longest namespace [WithDiscovery] accepts.
const MaxNamespaceBytes = 200

// DefaultDiscoveryGrace is how long an index row whose apply does not
// exist is kept (its CreatePlan may still be on its way) before [Projector.ListOpen]
// removes it; see [WithDiscoveryGrace].
const DefaultDiscoveryGrace = 15 * time.Minute

// openBucket is the membership bucket (the State of a member row) of the
// open-applies index. It starts with batchstate's reserved prefix, which
// no state of a queue's machine may, so no row of a queue is ever one of
// the index's, whatever the namespace.
const openBucket = "\x00statefold:open"

// The versions of an index row: planned is added before the apply is
// created, created once it exists. A removal of a row whose apply was
// missing is conditioned on planned, so it never removes a created row.
const (
	plannedVersion int64 = 1
	createdVersion int64 = 2
)

// DefaultListConcurrency is how many applies [Projector.ListOpen] reads at
// once unless [WithListConcurrency] says otherwise.
const DefaultListConcurrency = 16

// discovery is the open-applies index a Projector keeps (WithDiscovery).
type discovery struct {
	members   storage.MembershipStore
	namespace string
	shards    int
	grace     time.Duration
}

// WithDiscovery keeps the open-applies index in members, under namespace
// (one index per namespace; pick one no queue of yours uses, though rows
// never mix), spread over shards partitions (0 means [DefaultShards], at
// most [MaxShards]): [Projector.CreatePlan] lists every apply it creates
// and [Projector.ListOpen] returns the non-terminal ones. A terminal apply
// moves to the finished-applies index, by day of completion, which
// [Projector.PruneFinished] reads. Keep shards fixed for a namespace: an
// apply's shard is a hash of its id modulo shards.
func WithDiscovery(members storage.MembershipStore, namespace string, shards int) Option {
	return func(c *config) {
		if shards == 0 {
			shards = DefaultShards
		}
		c.discovery = &discovery{members: members, namespace: namespace, shards: shards}
	}
}

// WithDiscoveryGrace sets how long an index row whose apply does not exist
// is kept before ListOpen removes it (default [DefaultDiscoveryGrace]);
// choose it well above the time a CreatePlan takes. NewProjector rejects
// d <= 0.
func WithDiscoveryGrace(d time.Duration) Option {
	return func(c *config) { c.discoveryGrace = d }
}

// WithListConcurrency bounds how many applies ListOpen reads at once
// (default [DefaultListConcurrency]); size connection pools for it. 1
// reads them one after the other. NewProjector rejects n < 1.
func WithListConcurrency(n int) Option { return func(c *config) { c.listConcurrency = n } }

// check reports why d cannot keep the index, if it cannot.
func (d *discovery) check() error {
	switch {
	case d.members == nil:
		return storage.Invalid("WithDiscovery", "nil MembershipStore")
	case d.shards < 1 || d.shards > MaxShards:
		return storage.Invalid("WithDiscovery", "%d shards: 1 to %d", d.shards, MaxShards)
	case len(d.namespace) > MaxNamespaceBytes:
		return storage.Invalid("WithDiscovery", "namespace of %d bytes exceeds %d", len(d.namespace), MaxNamespaceBytes)
	}
	if err := storage.ValidateKey("WithDiscovery namespace", d.namespace); err != nil {
		return err
	}
	return nil
}

// shardOf is the shard of apply id among n.
func shardOf(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// shardQueue is the membership partition of shard i of namespace.
func shardQueue(namespace string, i int) string { return namespace + ":open:" + strconv.Itoa(i) }

// indexRow is the index row of apply id at version, added at now.
func (d *discovery) indexRow(id string, version int64, now time.Time) storage.Member {
	return storage.Member{Queue: shardQueue(d.namespace, shardOf(id, d.shards)), State: openBucket, BatchID: id, Version: version, AddedAt: now}
}

// rowVerdict is what ListOpen does with one index row.
type rowVerdict struct {
	list       bool  // the apply is open: return it
	remove     bool  // the row is stale: remove it up to maxVersion
	maxVersion int64 // the removal's condition
}

// openRow decides over an index row r and its apply as read after it (nil:
// not found) at now. An open apply is listed; a terminal one's row goes
// (a terminal apply never changes); a missing apply's row goes only past
// the grace and only at the planned version, so that a created apply's row
// is never removed; a created row whose apply is gone (deleted) goes.
func openRow(r storage.Member, a *storage.Apply, now time.Time, grace time.Duration) rowVerdict {
	switch {
	case a != nil && !Normalize(a.State).Terminal():
		return rowVerdict{list: true}
	case a != nil:
		return rowVerdict{remove: true, maxVersion: r.Version}
	case r.Version > plannedVersion:
		return rowVerdict{remove: true, maxVersion: r.Version}
	case now.Sub(r.AddedAt) > grace:
		return rowVerdict{remove: true, maxVersion: plannedVersion}
	}
	return rowVerdict{}
}

// list adds apply a's index row at version, if the Projector keeps the
// index.
func (p *Projector) list(ctx context.Context, id string, version int64) error {
	d := p.cfg.discovery
	if d == nil {
		return nil
	}
	if err := d.members.AddMember(ctx, d.indexRow(id, version, p.now())); err != nil && !errors.Is(err, storage.ErrConflict) {
		return fmt.Errorf("applystate: create plan %q: open-applies index: %w", id, err)
	}
	return nil
}

// unlist files the terminal apply a in the finished-applies index and
// then removes its open-index row, best effort: a row left behind (the
// filing or the removal failed) is filed and removed by a later ListOpen.
// The filing comes first, so the apply is never in neither index.
func (p *Projector) unlist(ctx context.Context, a storage.Apply) {
	d := p.cfg.discovery
	if d == nil {
		return
	}
	if err := p.file(ctx, a); err != nil {
		p.cfg.logger.WarnContext(ctx, "applystate: terminal apply left in the open-applies index", "apply", a.ID, "err", err)
		return
	}
	r := d.indexRow(a.ID, createdVersion, time.Time{})
	if err := d.members.RemoveMember(ctx, r.Queue, r.State, r.BatchID, createdVersion); err != nil {
		p.cfg.logger.WarnContext(ctx, "applystate: terminal apply left in the open-applies index", "apply", a.ID, "err", err)
	}
}

// ListOpen returns every apply of the open-applies index ([WithDiscovery])
// that is not terminal when read, by id. It reads every shard, then each
// listed apply, and removes the stale rows it meets (terminal applies,
// filed as finished first; applies that do not exist, past the grace). An apply whose CreatePlan
// returned before the call and that stays non-terminal through it is
// always returned; a terminal apply never is. A Projector without
// discovery is an error matching storage.ErrInvalid.
func (p *Projector) ListOpen(ctx context.Context) ([]storage.Apply, error) {
	ctx, call := p.start(ctx, "ListOpen", "", "")
	open, _, err := p.listOpen(ctx)
	call.End(err, observe.Outcome{Count: len(open)}, errorType)
	return open, err
}

// listOpen is ListOpen, also counting the stale rows it removed.
func (p *Projector) listOpen(ctx context.Context) ([]storage.Apply, int, error) {
	d := p.cfg.discovery
	if d == nil {
		return nil, 0, storage.Invalid("WithDiscovery", "ListOpen needs the open-applies index")
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	var rows []storage.Member
	for i := range d.shards {
		got, err := d.members.ListMembers(ctx, shardQueue(d.namespace, i), openBucket)
		if err != nil {
			return nil, 0, fmt.Errorf("applystate: list open applies: shard %d: %w", i, err)
		}
		rows = append(rows, got...)
	}
	return p.readListed(ctx, rows)
}

// readListed reads the apply of every row, WithListConcurrency at a time, and
// applies openRow's verdicts.
func (p *Projector) readListed(ctx context.Context, rows []storage.Member) ([]storage.Apply, int, error) {
	var (
		mu      sync.Mutex
		open    []storage.Apply
		removed int
		errs    []error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, p.cfg.listConcurrency)
	)
	for _, r := range rows {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			a, gone, err := p.readRow(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case a != nil:
				open = append(open, *a)
			case gone:
				removed++
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, removed, fmt.Errorf("applystate: list open applies: %w", err)
	}
	slices.SortFunc(open, func(x, y storage.Apply) int { return strings.Compare(x.ID, y.ID) })
	return open, removed, nil
}

// readRow reads r's apply and returns it when it is open, or removes r
// when it is stale (gone reports a removal that succeeded).
func (p *Projector) readRow(ctx context.Context, r storage.Member) (open *storage.Apply, gone bool, err error) {
	a, err := p.applies.GetApply(ctx, r.BatchID)
	var read *storage.Apply
	switch {
	case err == nil:
		read = &a
	case !errors.Is(err, storage.ErrNotFound):
		return nil, false, fmt.Errorf("apply %q: %w", r.BatchID, err)
	}
	v := openRow(r, read, p.now(), p.cfg.discovery.grace)
	if v.list {
		return read, false, nil
	}
	if !v.remove {
		return nil, false, nil
	}
	if read != nil { // terminal: filed as finished before it leaves the open index
		if err := p.file(ctx, *read); err != nil {
			p.cfg.logger.WarnContext(ctx, "applystate: terminal apply kept in the open-applies index", "apply", r.BatchID, "err", err)
			return nil, false, nil
		}
	}
	if err := p.cfg.discovery.members.RemoveMember(ctx, r.Queue, r.State, r.BatchID, v.maxVersion); err != nil {
		p.cfg.logger.WarnContext(ctx, "applystate: stale row of the open-applies index kept", "apply", r.BatchID, "err", err)
		return nil, false, nil
	}
	return nil, true, nil
}
