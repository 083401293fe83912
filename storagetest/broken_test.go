package storagetest_test

import (
	"cmp"
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// The broken stores below each break one rule of the storage contract on
// top of the memory store, and keep every other rule (input is validated
// before the broken part runs), so that the contract suite must fail in
// exactly the area that owns the rule.

// createUpserts overwrites an existing batch on create instead of reporting
// ErrAlreadyExists.
type createUpserts struct{ *memory.Store }

func (s createUpserts) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	got, err := s.Store.CreateBatch(ctx, b)
	if !errors.Is(err, storage.ErrAlreadyExists) {
		return got, err
	}
	cur, err := s.Store.GetBatch(ctx, b.Queue, b.ID)
	if err != nil {
		return storage.Batch{}, err
	}
	return s.Store.UpdateBatch(ctx, b, cur.Version, cur.State)
}

// getBatchesDups reads one row per requested id, so a duplicated id returns
// its row twice.
type getBatchesDups struct{ *memory.Store }

func (s getBatchesDups) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	if err := cmp.Or(storage.ValidateKey("queue", queue), storage.ValidateIDs("ids", ids)); err != nil {
		return nil, err
	}
	var out []storage.Batch
	for _, id := range ids {
		b, err := s.Store.GetBatch(ctx, queue, id)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			out = append(out, b)
		}
	}
	return out, nil
}

// ignoresVersion applies every update whatever version the caller expects.
type ignoresVersion struct{ *memory.Store }

func (s ignoresVersion) UpdateBatch(ctx context.Context, b storage.Batch, v int64, expectedState string) (storage.Batch, error) {
	if err := storage.ValidateVersion("expectedVersion", v); err != nil {
		return storage.Batch{}, err
	}
	cur, err := s.Store.GetBatch(ctx, b.Queue, b.ID)
	if err != nil {
		return storage.Batch{}, err
	}
	return s.Store.UpdateBatch(ctx, b, cur.Version, expectedState)
}

func (s ignoresVersion) UpdateApply(ctx context.Context, a storage.Apply, v int64) (storage.Apply, error) {
	if err := storage.ValidateVersion("expectedVersion", v); err != nil {
		return storage.Apply{}, err
	}
	cur, err := s.Store.GetApply(ctx, a.ID)
	if err != nil {
		return storage.Apply{}, err
	}
	return s.Store.UpdateApply(ctx, a, cur.Version)
}

// ignoresState applies a batch update whatever state the caller expects, as
// long as the version matches (the contract before the state condition).
type ignoresState struct{ *memory.Store }

func (s ignoresState) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64, expectedState string) (storage.Batch, error) {
	if err := storage.ValidateKey("expectedState", expectedState); err != nil {
		return storage.Batch{}, err
	}
	cur, err := s.Store.GetBatch(ctx, b.Queue, b.ID)
	if err != nil {
		return storage.Batch{}, err
	}
	return s.Store.UpdateBatch(ctx, b, expectedVersion, cur.State)
}

// nonAtomicCAS checks the version (and a batch's state) and then writes,
// unconditionally, after yielding the processor once: the gap between a
// read and a write that a store without a conditional write has.
type nonAtomicCAS struct{ *memory.Store }

// overwrite writes a row whatever its version: update at the version just
// read until no other writer slipped in between.
func overwrite[V any](read func() (V, error), write func(cur V) (V, error)) (V, error) {
	for {
		cur, err := read()
		if err != nil {
			return cur, err
		}
		got, err := write(cur)
		if !errors.Is(err, storage.ErrConflict) {
			return got, err
		}
	}
}

func (s nonAtomicCAS) UpdateBatch(ctx context.Context, b storage.Batch, v int64, expectedState string) (storage.Batch, error) {
	if err := cmp.Or(storage.ValidateBatch(b), storage.ValidateVersion("expectedVersion", v), storage.ValidateKey("expectedState", expectedState)); err != nil {
		return storage.Batch{}, err
	}
	cur, err := s.Store.GetBatch(ctx, b.Queue, b.ID)
	if err != nil {
		return storage.Batch{}, err
	}
	if cur.Version != v || cur.State != expectedState {
		return storage.Batch{}, storage.ErrConflict
	}
	runtime.Gosched()
	return overwrite(func() (storage.Batch, error) { return s.Store.GetBatch(ctx, b.Queue, b.ID) },
		func(cur storage.Batch) (storage.Batch, error) {
			return s.Store.UpdateBatch(ctx, b, cur.Version, cur.State)
		})
}

func (s nonAtomicCAS) UpdateApply(ctx context.Context, a storage.Apply, v int64) (storage.Apply, error) {
	if err := cmp.Or(storage.ValidateApply(a), storage.ValidateVersion("expectedVersion", v)); err != nil {
		return storage.Apply{}, err
	}
	cur, err := s.Store.GetApply(ctx, a.ID)
	if err != nil {
		return storage.Apply{}, err
	}
	if cur.Version != v {
		return storage.Apply{}, storage.ErrConflict
	}
	runtime.Gosched()
	return overwrite(func() (storage.Apply, error) { return s.Store.GetApply(ctx, a.ID) },
		func(cur storage.Apply) (storage.Apply, error) { return s.Store.UpdateApply(ctx, a, cur.Version) })
}

func (s nonAtomicCAS) UpdateOperation(ctx context.Context, op storage.Operation, v int64) (storage.Operation, error) {
	if err := cmp.Or(storage.ValidateOperation(op), storage.ValidateVersion("expectedVersion", v)); err != nil {
		return storage.Operation{}, err
	}
	cur, err := s.Store.GetOperation(ctx, op.ApplyID, op.ID)
	if err != nil {
		return storage.Operation{}, err
	}
	if cur.Version != v {
		return storage.Operation{}, storage.ErrConflict
	}
	runtime.Gosched()
	return overwrite(func() (storage.Operation, error) { return s.Store.GetOperation(ctx, op.ApplyID, op.ID) },
		func(cur storage.Operation) (storage.Operation, error) {
			return s.Store.UpdateOperation(ctx, op, cur.Version)
		})
}

// lowerSilent reports success for a lower-version AddMember that changed
// nothing (the contract before AddMember reported ErrConflict).
type lowerSilent struct{ *memory.Store }

func (s lowerSilent) AddMember(ctx context.Context, m storage.Member) error {
	if err := s.Store.AddMember(ctx, m); err != nil && !errors.Is(err, storage.ErrConflict) {
		return err
	}
	return nil
}

// lowerOverwrites lets a lower-version AddMember replace the row.
type lowerOverwrites struct{ *memory.Store }

func (s lowerOverwrites) AddMember(ctx context.Context, m storage.Member) error {
	if err := storage.ValidateMember(m); err != nil {
		return err
	}
	if err := s.Store.RemoveMember(ctx, m.Queue, m.State, m.BatchID, 1<<62); err != nil {
		return err
	}
	return s.Store.AddMember(ctx, m)
}

// foldsCase compares batch ids case-insensitively, as a utf8mb4 collation
// would.
type foldsCase struct{ *memory.Store }

func fold(id string) string {
	if !utf8.ValidString(id) {
		return id // left for the memory store to reject
	}
	return strings.ToLower(id)
}

func (s foldsCase) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	b.ID = fold(b.ID)
	return s.Store.CreateBatch(ctx, b)
}

func (s foldsCase) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	return s.Store.GetBatch(ctx, queue, fold(id))
}

// clampsTimes moves times outside [storage.MinTime, storage.MaxTime] to the
// nearest bound instead of rejecting them.
type clampsTimes struct{ *memory.Store }

func clamp(ts ...*time.Time) {
	for _, t := range ts {
		switch {
		case t.IsZero():
		case t.Before(storage.MinTime):
			*t = storage.MinTime
		case t.After(storage.MaxTime):
			*t = storage.MaxTime
		}
	}
}

func (s clampsTimes) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	clamp(&b.CreatedAt, &b.UpdatedAt)
	return s.Store.CreateBatch(ctx, b)
}

func (s clampsTimes) UpdateBatch(ctx context.Context, b storage.Batch, v int64, st string) (storage.Batch, error) {
	clamp(&b.CreatedAt, &b.UpdatedAt)
	return s.Store.UpdateBatch(ctx, b, v, st)
}

func (s clampsTimes) AddMember(ctx context.Context, m storage.Member) error {
	clamp(&m.AddedAt)
	return s.Store.AddMember(ctx, m)
}

func (s clampsTimes) CreateApply(ctx context.Context, a storage.Apply) (storage.Apply, error) {
	clamp(&a.StartedAt, &a.CompletedAt, &a.CreatedAt, &a.UpdatedAt)
	return s.Store.CreateApply(ctx, a)
}

func (s clampsTimes) UpdateApply(ctx context.Context, a storage.Apply, v int64) (storage.Apply, error) {
	clamp(&a.StartedAt, &a.CompletedAt, &a.CreatedAt, &a.UpdatedAt)
	return s.Store.UpdateApply(ctx, a, v)
}

func (s clampsTimes) CreateOperation(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	clamp(&op.StartedAt, &op.CompletedAt, &op.CreatedAt, &op.UpdatedAt)
	return s.Store.CreateOperation(ctx, op)
}

func (s clampsTimes) UpdateOperation(ctx context.Context, op storage.Operation, v int64) (storage.Operation, error) {
	clamp(&op.StartedAt, &op.CompletedAt, &op.CreatedAt, &op.UpdatedAt)
	return s.Store.UpdateOperation(ctx, op, v)
}

// repairsLabels truncates an operation's labels to storage.MaxKeyBytes and
// replaces invalid UTF-8 instead of rejecting them.
type repairsLabels struct{ *memory.Store }

func repair(labels ...*string) {
	for _, l := range labels {
		*l = strings.ToValidUTF8(*l, "?")
		if len(*l) > storage.MaxKeyBytes {
			*l = strings.ToValidUTF8((*l)[:storage.MaxKeyBytes], "")
		}
	}
}

func (s repairsLabels) CreateOperation(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	repair(&op.Deployment, &op.Group, &op.OnFailure)
	return s.Store.CreateOperation(ctx, op)
}

func (s repairsLabels) UpdateOperation(ctx context.Context, op storage.Operation, v int64) (storage.Operation, error) {
	repair(&op.Deployment, &op.Group, &op.OnFailure)
	return s.Store.UpdateOperation(ctx, op, v)
}

// aliasesReads is a read-through cache that hands every reader the payload
// slice it cached: a caller writing into a payload it read changes what the
// next reader sees. Writes drop the cached row.
type aliasesReads struct {
	*memory.Store
	mu    sync.Mutex
	cache map[string][]byte // entity key -> the payload handed out
}

// cached returns the payload cached under key, caching p if there is none.
func (s *aliasesReads) cached(key string, p []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[key]; ok {
		return c
	}
	s.cache[key] = p
	return p
}

func (s *aliasesReads) drop(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cache, key)
}

func batchKey(queue, id string) string { return "b\x00" + queue + "\x00" + id }
func applyKey(id string) string        { return "a\x00" + id }
func opKey(applyID, id string) string  { return "o\x00" + applyID + "\x00" + id }

func (s *aliasesReads) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	b, err := s.Store.GetBatch(ctx, queue, id)
	if err == nil {
		b.Payload = s.cached(batchKey(queue, id), b.Payload)
	}
	return b, err
}

func (s *aliasesReads) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	bs, err := s.Store.GetBatches(ctx, queue, ids)
	for i := range bs {
		bs[i].Payload = s.cached(batchKey(queue, bs[i].ID), bs[i].Payload)
	}
	return bs, err
}

func (s *aliasesReads) UpdateBatch(ctx context.Context, b storage.Batch, v int64, st string) (storage.Batch, error) {
	defer s.drop(batchKey(b.Queue, b.ID))
	return s.Store.UpdateBatch(ctx, b, v, st)
}

func (s *aliasesReads) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	a, err := s.Store.GetApply(ctx, id)
	if err == nil {
		a.Payload = s.cached(applyKey(id), a.Payload)
	}
	return a, err
}

func (s *aliasesReads) UpdateApply(ctx context.Context, a storage.Apply, v int64) (storage.Apply, error) {
	defer s.drop(applyKey(a.ID))
	return s.Store.UpdateApply(ctx, a, v)
}

func (s *aliasesReads) GetOperation(ctx context.Context, applyID, id string) (storage.Operation, error) {
	op, err := s.Store.GetOperation(ctx, applyID, id)
	if err == nil {
		op.Payload = s.cached(opKey(applyID, id), op.Payload)
	}
	return op, err
}

func (s *aliasesReads) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	ops, err := s.Store.ListOperations(ctx, applyID)
	for i := range ops {
		ops[i].Payload = s.cached(opKey(applyID, ops[i].ID), ops[i].Payload)
	}
	return ops, err
}

func (s *aliasesReads) UpdateOperation(ctx context.Context, op storage.Operation, v int64) (storage.Operation, error) {
	defer s.drop(opKey(op.ApplyID, op.ID))
	return s.Store.UpdateOperation(ctx, op, v)
}

// losesClaims lists a pending operation without its StartedAt: a claimed
// start is invisible to the projections that list it.
type losesClaims struct{ *memory.Store }

func (s losesClaims) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	ops, err := s.Store.ListOperations(ctx, applyID)
	for i := range ops {
		if ops[i].State == "pending" {
			ops[i].StartedAt = time.Time{}
		}
	}
	return ops, err
}

// dropsOwnership stores an operation without its Owner, OwnerToken,
// OwnerUntil, ReleasedAt and ProjectedVersion, as a backend that lacks
// their columns would, and returns what it was given.
type dropsOwnership struct{ *memory.Store }

func dropOwnership(op storage.Operation) storage.Operation {
	op.Owner, op.OwnerToken, op.OwnerUntil, op.ReleasedAt = "", 0, time.Time{}, time.Time{}
	op.ProjectedVersion = 0
	return op
}

func (s dropsOwnership) CreateOperation(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	if err := storage.ValidateOperation(op); err != nil {
		return storage.Operation{}, err
	}
	got, err := s.Store.CreateOperation(ctx, dropOwnership(op))
	if err != nil {
		return got, err
	}
	op = storage.NormalizeOperation(op)
	op.Version = got.Version
	return op, nil
}

func (s dropsOwnership) UpdateOperation(ctx context.Context, op storage.Operation, v int64) (storage.Operation, error) {
	if err := storage.ValidateOperation(op); err != nil {
		return storage.Operation{}, err
	}
	got, err := s.Store.UpdateOperation(ctx, dropOwnership(op), v)
	if err != nil {
		return got, err
	}
	op = storage.NormalizeOperation(op)
	op.Version = got.Version
	return op, nil
}

// staleMembers answers ListMembers from the bucket as it was at the
// previous call of that bucket: an index read that is not read-after-write.
type staleMembers struct {
	*memory.Store
	mu   sync.Mutex
	last map[string][]storage.Member
}

func (s *staleMembers) ListMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	cur, err := s.Store.ListMembers(ctx, queue, state)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := queue + "\x00" + state
	prev, seen := s.last[key]
	s.last[key] = cur
	if !seen {
		return cur, nil
	}
	return prev, nil
}

// localTimes returns every time of a batch in another location: the same
// instant, but not in UTC.
type localTimes struct{ *memory.Store }

func (s localTimes) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	b, err := s.Store.GetBatch(ctx, queue, id)
	zone := time.FixedZone("UTC-7", -7*3600)
	b.CreatedAt, b.UpdatedAt = b.CreatedAt.In(zone), b.UpdatedAt.In(zone)
	return b, err
}

// sharesReadBuffer copies the stored payload into one buffer per row on
// every read and hands that buffer out: each read is fresh, but two
// readers share one slice, so a write into one changes the other.
type sharesReadBuffer struct {
	*memory.Store
	mu   sync.Mutex
	bufs map[string][]byte
}

func (s *sharesReadBuffer) share(key string, p []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := s.bufs[key]
	if cap(buf) < len(p) {
		buf = make([]byte, len(p))
	}
	buf = buf[:len(p)]
	copy(buf, p)
	s.bufs[key] = buf
	return buf
}

func (s *sharesReadBuffer) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	b, err := s.Store.GetBatch(ctx, queue, id)
	b.Payload = s.share(batchKey(queue, id), b.Payload)
	return b, err
}

func (s *sharesReadBuffer) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	bs, err := s.Store.GetBatches(ctx, queue, ids)
	for i := range bs {
		bs[i].Payload = s.share(batchKey(queue, bs[i].ID), bs[i].Payload)
	}
	return bs, err
}

func (s *sharesReadBuffer) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	a, err := s.Store.GetApply(ctx, id)
	a.Payload = s.share(applyKey(id), a.Payload)
	return a, err
}

func (s *sharesReadBuffer) GetOperation(ctx context.Context, applyID, id string) (storage.Operation, error) {
	op, err := s.Store.GetOperation(ctx, applyID, id)
	op.Payload = s.share(opKey(applyID, id), op.Payload)
	return op, err
}

func (s *sharesReadBuffer) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	ops, err := s.Store.ListOperations(ctx, applyID)
	for i := range ops {
		ops[i].Payload = s.share(opKey(applyID, ops[i].ID), ops[i].Payload)
	}
	return ops, err
}
