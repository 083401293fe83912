package custombackend

import (
	"context"
	"errors"
	"fmt"

	"github.com/statefold/statefold/storage"
)

// key is a composite key: a partition and, for ranged tables, a sort part.
type key struct{ part, sort1, sort2 string }

// table is one versioned map. get/put copy through the clone function.
type table[V any] struct {
	rows  map[key]V
	clone func(V) V
}

func newTable[V any](clone func(V) V) *table[V] {
	return &table[V]{rows: make(map[key]V), clone: clone}
}

// Store is a storage.Store over a [Conn], safe for concurrent use: the
// checks of [storage.Checked] around a driver that only stores and
// compares.
type Store struct{ checkedStore }

// checkedStore is the portable layer: its methods are Store's.
type checkedStore = storage.Store

var _ storage.Store = (*Store)(nil)

// New returns a Store over a new, empty [DB].
func New() *Store { return Open(NewDB()) }

// Open returns a Store that sends its requests through conn.
func Open(conn Conn) *Store { return &Store{storage.Checked(&driver{conn: conn})} }

// driver sends each call as one request: a [storage.Driver], so its input
// is already checked and normalized.
type driver struct {
	conn Conn
}

// do sends req through the store's Conn and classifies a failure below
// the store for a read (write false) or a write, as the store contract
// asks: the caller's context ended before req was sent is the context's
// error alone, and while a write was in flight storage.ErrAmbiguous with
// it (never storage.ErrUnavailable: the limit was the caller's); a
// connection that failed before sending, or a server error (rolled back),
// is storage.ErrUnavailable alone; one that failed after a write was sent
// is ErrAmbiguous and ErrUnavailable, since the write may have landed.
// req's own answers (storage.ErrNotFound, ErrConflict, …) pass through.
// The native error stays reachable.
func (s *driver) do(ctx context.Context, write bool, what string, req Request) error {
	if err := ctx.Err(); err != nil {
		return err // ended before the call: nothing is sent
	}
	err := s.conn.Do(ctx, req)
	if err == nil {
		return nil
	}
	var ne *NetError
	var se *ServerError
	isNet := errors.As(err, &ne)
	sent := !isNet || ne.Sent // a bare error of the context: perhaps sent
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		if write && sent {
			return fmt.Errorf("custombackend: %s: %w: %w", what, storage.ErrAmbiguous, err)
		}
		return fmt.Errorf("custombackend: %s: %w", what, err)
	case isNet && write && ne.Sent:
		return fmt.Errorf("custombackend: %s: %w: %w: %w", what, storage.ErrAmbiguous, storage.ErrUnavailable, err)
	case isNet, errors.As(err, &se):
		return fmt.Errorf("custombackend: %s: %w: %w", what, storage.ErrUnavailable, err)
	}
	return err
}

// create inserts v under k with version 1 via setVersion.
func create[V any](t *table[V], k key, v V, setVersion func(*V, int64)) (V, error) {
	var zero V
	if _, ok := t.rows[k]; ok {
		return zero, fmt.Errorf("custombackend: create %q: %w", k, storage.ErrAlreadyExists)
	}
	v = t.clone(v)
	setVersion(&v, 1)
	t.rows[k] = v
	return t.clone(v), nil
}

func get[V any](t *table[V], k key) (V, error) {
	v, ok := t.rows[k]
	if !ok {
		var zero V
		return zero, fmt.Errorf("custombackend: get %q: %w", k, storage.ErrNotFound)
	}
	return t.clone(v), nil
}

// update is the compare-and-swap: version(stored) must equal expected, and
// matches(stored) must hold (the batch CAS also checks the state).
func update[V any](t *table[V], k key, v V, expected int64, version func(V) int64, matches func(V) bool, setVersion func(*V, int64)) (V, error) {
	var zero V
	cur, ok := t.rows[k]
	if !ok {
		return zero, fmt.Errorf("custombackend: update %q: %w", k, storage.ErrNotFound)
	}
	if version(cur) != expected || !matches(cur) {
		return zero, fmt.Errorf("custombackend: update %q: %w", k, storage.ErrConflict)
	}
	v = t.clone(v)
	setVersion(&v, expected+1)
	t.rows[k] = v
	return t.clone(v), nil
}

// scan returns every row of one partition (and, if sort1 != "", one bucket).
func scan[V any](t *table[V], part, sort1 string) []V {
	var out []V
	for k, v := range t.rows {
		if k.part == part && (sort1 == "" || k.sort1 == sort1) {
			out = append(out, t.clone(v))
		}
	}
	return out
}

// call sends the request fn as a read or a write and returns its value.
func call[V any](ctx context.Context, s *driver, write bool, what string, fn func(tx *Tables) (V, error)) (V, error) {
	var out V
	err := s.do(ctx, write, what, func(tx *Tables) error {
		var err error
		out, err = fn(tx)
		return err
	})
	if err != nil {
		var zero V
		return zero, err
	}
	return out, nil
}

func setBatchVersion(b *storage.Batch, v int64)  { b.Version = v }
func setApplyVersion(a *storage.Apply, v int64)  { a.Version = v }
func setOpVersion(o *storage.Operation, v int64) { o.Version = v }
func batchVersion(b storage.Batch) int64         { return b.Version }
func applyVersion(a storage.Apply) int64         { return a.Version }
func opVersion(o storage.Operation) int64        { return o.Version }
func anyRow[V any](V) bool                       { return true }

// rows is how the driver reaches one kind of row: its table in a request,
// the key of a row, and its version.
type rows[V any] struct {
	name       string // "batch", "apply", "operation"
	table      func(*Tables) *table[V]
	key        func(V) key
	version    func(V) int64
	setVersion func(*V, int64)
}

var (
	batchRows = rows[storage.Batch]{name: "batch",
		table:   func(tx *Tables) *table[storage.Batch] { return tx.batches },
		key:     func(b storage.Batch) key { return key{b.Queue, b.ID, ""} },
		version: batchVersion, setVersion: setBatchVersion}
	applyRows = rows[storage.Apply]{name: "apply",
		table:   func(tx *Tables) *table[storage.Apply] { return tx.applies },
		key:     func(a storage.Apply) key { return key{a.ID, "", ""} },
		version: applyVersion, setVersion: setApplyVersion}
	opRows = rows[storage.Operation]{name: "operation",
		table:   func(tx *Tables) *table[storage.Operation] { return tx.ops },
		key:     func(op storage.Operation) key { return key{op.ApplyID, op.ID, ""} },
		version: opVersion, setVersion: setOpVersion}
)

// create sends the request that inserts v at version 1.
func (r rows[V]) create(ctx context.Context, s *driver, v V) (V, error) {
	return call(ctx, s, true, "create "+r.name, func(tx *Tables) (V, error) {
		return create(r.table(tx), r.key(v), v, r.setVersion)
	})
}

// get sends the request that reads the row of k.
func (r rows[V]) get(ctx context.Context, s *driver, k key) (V, error) {
	return call(ctx, s, false, "get "+r.name, func(tx *Tables) (V, error) {
		return get(r.table(tx), k)
	})
}

// update sends the compare-and-swap of v at version expected, which the
// stored row must also match.
func (r rows[V]) update(ctx context.Context, s *driver, v V, expected int64, matches func(V) bool) (V, error) {
	return call(ctx, s, true, "update "+r.name, func(tx *Tables) (V, error) {
		return update(r.table(tx), r.key(v), v, expected, r.version, matches, r.setVersion)
	})
}

// CreateBatch implements storage.Driver.
func (s *driver) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	return batchRows.create(ctx, s, b)
}

// GetBatch implements storage.Driver.
func (s *driver) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	return batchRows.get(ctx, s, key{queue, id, ""})
}

// GetBatches implements storage.Driver.
func (s *driver) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	return call(ctx, s, false, "get batches", func(tx *Tables) ([]storage.Batch, error) {
		var out []storage.Batch
		for _, id := range ids {
			if b, err := get(tx.batches, key{queue, id, ""}); err == nil {
				out = append(out, b)
			}
		}
		return out, nil
	})
}

// UpdateBatch implements storage.Driver: the stored row must have
// expectedVersion and, byte for byte, expectedState.
func (s *driver) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64, expectedState string) (storage.Batch, error) {
	inState := func(cur storage.Batch) bool { return cur.State == expectedState }
	return batchRows.update(ctx, s, b, expectedVersion, inState)
}

// AddMember implements storage.Driver: an upsert that never lowers
// the version; a higher stored version is storage.ErrConflict.
func (s *driver) AddMember(ctx context.Context, m storage.Member) error {
	k := key{m.Queue, m.State, m.BatchID}
	return s.do(ctx, true, "add member", func(tx *Tables) error {
		if cur, ok := tx.members.rows[k]; ok && m.Version < cur.Version {
			return fmt.Errorf("custombackend: add member %q: stored version %d is above %d: %w", k, cur.Version, m.Version, storage.ErrConflict)
		}
		tx.members.rows[k] = tx.members.clone(m)
		return nil
	})
}

// RemoveMember implements storage.Driver: delete only if the row is
// not newer than maxVersion.
func (s *driver) RemoveMember(ctx context.Context, queue, state, batchID string, maxVersion int64) error {
	k := key{queue, state, batchID}
	return s.do(ctx, true, "remove member", func(tx *Tables) error {
		if cur, ok := tx.members.rows[k]; ok && cur.Version <= maxVersion {
			delete(tx.members.rows, k)
		}
		return nil
	})
}

// ListMembers implements storage.Driver.
func (s *driver) ListMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	return call(ctx, s, false, "list members", func(tx *Tables) ([]storage.Member, error) {
		return scan(tx.members, queue, state), nil
	})
}

// CreateApply implements storage.Driver.
func (s *driver) CreateApply(ctx context.Context, a storage.Apply) (storage.Apply, error) {
	return applyRows.create(ctx, s, a)
}

// GetApply implements storage.Driver.
func (s *driver) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	return applyRows.get(ctx, s, key{id, "", ""})
}

// UpdateApply implements storage.Driver.
func (s *driver) UpdateApply(ctx context.Context, a storage.Apply, expectedVersion int64) (storage.Apply, error) {
	return applyRows.update(ctx, s, a, expectedVersion, anyRow)
}

// CreateOperation implements storage.Driver.
func (s *driver) CreateOperation(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	return opRows.create(ctx, s, op)
}

// GetOperation implements storage.Driver.
func (s *driver) GetOperation(ctx context.Context, applyID, id string) (storage.Operation, error) {
	return opRows.get(ctx, s, key{applyID, id, ""})
}

// ListOperations implements storage.Driver.
func (s *driver) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	return call(ctx, s, false, "list operations", func(tx *Tables) ([]storage.Operation, error) {
		return scan(tx.ops, applyID, ""), nil
	})
}

// UpdateOperation implements storage.Driver.
func (s *driver) UpdateOperation(ctx context.Context, op storage.Operation, expectedVersion int64) (storage.Operation, error) {
	return opRows.update(ctx, s, op, expectedVersion, anyRow)
}
