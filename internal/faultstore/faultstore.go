package faultstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/statefold/statefold/internal/enum"
	"github.com/statefold/statefold/storage"
)

// Method names one method of [storage.Store]. It selects the calls a
// [Fault] applies to and keys the call counts of a [Store].
type Method string

// The methods of [storage.Store].
const (
	// CreateBatch is storage.BatchStore.CreateBatch.
	CreateBatch Method = "CreateBatch"
	// GetBatch is storage.BatchStore.GetBatch.
	GetBatch Method = "GetBatch"
	// GetBatches is storage.BatchStore.GetBatches.
	GetBatches Method = "GetBatches"
	// UpdateBatch is storage.BatchStore.UpdateBatch.
	UpdateBatch Method = "UpdateBatch"
	// AddMember is storage.MembershipStore.AddMember.
	AddMember Method = "AddMember"
	// RemoveMember is storage.MembershipStore.RemoveMember.
	RemoveMember Method = "RemoveMember"
	// ListMembers is storage.MembershipStore.ListMembers.
	ListMembers Method = "ListMembers"
	// CreateApply is storage.ApplyStore.CreateApply.
	CreateApply Method = "CreateApply"
	// GetApply is storage.ApplyStore.GetApply.
	GetApply Method = "GetApply"
	// UpdateApply is storage.ApplyStore.UpdateApply.
	UpdateApply Method = "UpdateApply"
	// CreateOperation is storage.OperationStore.CreateOperation.
	CreateOperation Method = "CreateOperation"
	// GetOperation is storage.OperationStore.GetOperation.
	GetOperation Method = "GetOperation"
	// ListOperations is storage.OperationStore.ListOperations.
	ListOperations Method = "ListOperations"
	// UpdateOperation is storage.OperationStore.UpdateOperation.
	UpdateOperation Method = "UpdateOperation"
	// DeleteBatch is storage.BatchStore.DeleteBatch.
	DeleteBatch Method = "DeleteBatch"
	// DeleteApply is storage.ApplyStore.DeleteApply.
	DeleteApply Method = "DeleteApply"
	// DeleteOperation is storage.OperationStore.DeleteOperation.
	DeleteOperation Method = "DeleteOperation"
)

// Methods returns every [Method], reads and writes, in interface order.
func Methods() []Method {
	return []Method{
		CreateBatch, GetBatch, GetBatches, UpdateBatch, DeleteBatch,
		AddMember, RemoveMember, ListMembers,
		CreateApply, GetApply, UpdateApply, DeleteApply,
		CreateOperation, GetOperation, ListOperations, UpdateOperation, DeleteOperation,
	}
}

// IsWrite reports whether the method may change stored data.
func (m Method) IsWrite() bool {
	switch m {
	case CreateBatch, UpdateBatch, AddMember, RemoveMember,
		CreateApply, UpdateApply, CreateOperation, UpdateOperation,
		DeleteBatch, DeleteApply, DeleteOperation, MoveBatch:
		return true
	}
	return false
}

// Mode says what a [Fault] does to the call it hits.
type Mode int

const (
	// FailBefore returns the fault's error without performing the call: a
	// crash before the request reached the store.
	FailBefore Mode = iota + 1
	// FailAfter performs the call and then returns the fault's error instead
	// of its result: the ambiguous failure of a write that landed but whose
	// response was lost.
	FailAfter
	// Block holds the call until the fault's Release channel is closed (or
	// the call's context ends), then performs it: a way to force
	// interleavings.
	Block
)

// String implements fmt.Stringer.
func (m Mode) String() string { return enum.Name("Mode", modeNames[:], m) }

// modeNames are the modes' names, by value.
var modeNames = [...]string{FailBefore: "fail-before", FailAfter: "fail-after", Block: "block"}

// ErrInjected is the error a [Fault] returns when its Err is nil.
var ErrInjected = errors.New("storagetest: injected fault")

// Fault describes one injected fault. A fault counts the calls that match
// it from the moment it is injected; it hits the Call-th of them (1-based),
// or every matching call when Call is 0.
type Fault struct {
	// Mode is what happens to the call that is hit.
	Mode Mode
	// Call selects the k-th matching call; 0 hits every matching call.
	Call int
	// Methods restricts the fault to these methods; empty matches all.
	Methods []Method
	// WritesOnly restricts the fault to writes (see [Method.IsWrite]).
	WritesOnly bool
	// Err is the error returned by FailBefore and FailAfter; nil means
	// [ErrInjected].
	Err error
	// Release ends a Block. A nil Release blocks until the call's context
	// ends.
	Release <-chan struct{}
}

// Injection is the handle of an injected [Fault].
type Injection struct {
	fault   Fault
	seen    int
	hits    int
	first   Method
	reached chan struct{}
	once    sync.Once
}

// Reached is closed when the fault hits its first call; for a Block it is
// closed while the call is held.
func (i *Injection) Reached() <-chan struct{} { return i.reached }

// Hit reports the method of the first call the fault hit, if it hit any.
func (i *Injection) Hit() (Method, bool) {
	select {
	case <-i.reached:
		return i.first, true
	default:
		return "", false
	}
}

// Store wraps a [storage.Store], counting calls and writes per method
// and injecting [Fault]s. It is safe for concurrent use. Faults and counts
// are guarded by one mutex; the wrapped store is called without holding it.
type Store struct {
	inner storage.Store

	mu        sync.Mutex
	calls     map[Method]int
	conflicts map[Method]int
	faults    []*Injection
	hitsTotal int
	hook      func(ctx context.Context, m Method) error
}

var _ storage.Store = (*Store)(nil)

// New returns a Store over inner with no faults.
func New(inner storage.Store) *Store {
	return &Store{inner: inner, calls: make(map[Method]int), conflicts: make(map[Method]int)}
}

// Inner returns the wrapped store, for fault-free reads and repairs.
func (f *Store) Inner() storage.Store { return f.inner }

// Inject arms a fault and returns its handle. An invalid Mode is reported
// as an error matching [storage.ErrInvalid].
func (f *Store) Inject(fault Fault) (*Injection, error) {
	switch fault.Mode {
	case FailBefore, FailAfter, Block:
	default:
		return nil, storage.Invalid("fault.Mode", "unknown mode %d", int(fault.Mode))
	}
	if fault.Call < 0 {
		return nil, storage.Invalid("fault.Call", "must be >= 0, got %d", fault.Call)
	}
	in := &Injection{fault: fault, reached: make(chan struct{})}
	f.mu.Lock()
	f.faults = append(f.faults, in)
	f.mu.Unlock()
	return in, nil
}

// SetHook sets a function called before every call, after the call is
// counted and before any fault: a non-nil error fails the call without
// reaching the store (the error is returned as is), and the hook may block
// to delay the call or to let another caller run first. nil removes it.
// Tests use it for per-call decisions a [Fault] cannot express.
func (f *Store) SetHook(h func(ctx context.Context, m Method) error) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

// ClearFaults disarms every fault; counts are kept.
func (f *Store) ClearFaults() {
	f.mu.Lock()
	f.faults = nil
	f.mu.Unlock()
}

// ResetCounts zeroes the call counts and the hit count.
func (f *Store) ResetCounts() {
	f.mu.Lock()
	f.calls = make(map[Method]int)
	f.conflicts = make(map[Method]int)
	f.hitsTotal = 0
	f.mu.Unlock()
}

// Calls returns the number of calls of m since the last [Store.ResetCounts],
// including calls a fault failed.
func (f *Store) Calls(m Method) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[m]
}

// TotalCalls returns the number of calls of every method.
func (f *Store) TotalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sum(f.calls, nil)
}

// Writes returns the number of calls of write methods.
func (f *Store) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sum(f.calls, Method.IsWrite)
}

// Counts returns a copy of the per-method call counts.
func (f *Store) Counts() map[Method]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.calls)
}

// Conflicts returns how many calls returned [storage.ErrConflict] from the
// wrapped store (lost compare-and-swaps, and AddMember calls that found a
// newer row; injected faults are not counted).
func (f *Store) Conflicts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sum(f.conflicts, nil)
}

// sum adds up the counts of the methods keep reports (of all of them when
// keep is nil).
func sum(counts map[Method]int, keep func(Method) bool) int {
	n := 0
	for m, c := range counts {
		if keep == nil || keep(m) {
			n += c
		}
	}
	return n
}

// Hits returns how many calls faults have hit since the last
// [Store.ResetCounts].
func (f *Store) Hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hitsTotal
}

func (in *Injection) matches(m Method) bool {
	if in.fault.WritesOnly && !m.IsWrite() {
		return false
	}
	if len(in.fault.Methods) == 0 {
		return true
	}
	for _, x := range in.fault.Methods {
		if x == m {
			return true
		}
	}
	return false
}

// enter counts the call and returns the fault that hits it, if any, and
// the hook.
func (f *Store) enter(m Method) (*Injection, func(context.Context, Method) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[m]++
	var hit *Injection
	for _, in := range f.faults {
		if !in.matches(m) {
			continue
		}
		in.seen++
		if hit == nil && (in.fault.Call == 0 || in.seen == in.fault.Call) {
			hit = in
		}
	}
	if hit != nil {
		if hit.hits == 0 {
			hit.first = m
		}
		hit.hits++
		f.hitsTotal++
	}
	return hit, f.hook
}

func (in *Injection) err(m Method) error {
	err := in.fault.Err
	if err == nil {
		err = ErrInjected
	}
	return fmt.Errorf("storagetest: %s %s: %w", in.fault.Mode, m, err)
}

// do runs one call through the faults. call performs it and reports its
// error.
func do(ctx context.Context, f *Store, m Method, call func() error) error {
	in, hook := f.enter(m)
	if hook != nil {
		if err := hook(ctx, m); err != nil {
			return err
		}
	}
	if in == nil {
		err := call()
		if errors.Is(err, storage.ErrConflict) {
			f.mu.Lock()
			f.conflicts[m]++
			f.mu.Unlock()
		}
		return err
	}
	in.once.Do(func() { close(in.reached) })
	switch in.fault.Mode {
	case FailBefore:
		return in.err(m)
	case FailAfter:
		_ = call()
		return in.err(m)
	default: // Block
		select {
		case <-in.fault.Release:
		case <-ctx.Done():
			return ctx.Err()
		}
		return call()
	}
}

// call runs a call that returns a value through the faults; on any error
// the zero value is returned, as a store would.
func call[T any](ctx context.Context, f *Store, m Method, fn func() (T, error)) (T, error) {
	var out T
	err := do(ctx, f, m, func() (e error) { out, e = fn(); return e })
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// CreateBatch implements [storage.BatchStore].
func (f *Store) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	return call(ctx, f, CreateBatch, func() (storage.Batch, error) { return f.inner.CreateBatch(ctx, b) })
}

// GetBatch implements [storage.BatchStore].
func (f *Store) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	return call(ctx, f, GetBatch, func() (storage.Batch, error) { return f.inner.GetBatch(ctx, queue, id) })
}

// GetBatches implements [storage.BatchStore].
func (f *Store) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	return call(ctx, f, GetBatches, func() ([]storage.Batch, error) { return f.inner.GetBatches(ctx, queue, ids) })
}

// UpdateBatch implements [storage.BatchStore].
func (f *Store) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64, expectedState string) (storage.Batch, error) {
	return call(ctx, f, UpdateBatch, func() (storage.Batch, error) {
		return f.inner.UpdateBatch(ctx, b, expectedVersion, expectedState)
	})
}

// AddMember implements [storage.MembershipStore].
func (f *Store) AddMember(ctx context.Context, m storage.Member) error {
	return do(ctx, f, AddMember, func() error { return f.inner.AddMember(ctx, m) })
}

// RemoveMember implements [storage.MembershipStore].
func (f *Store) RemoveMember(ctx context.Context, queue, state, batchID string, maxVersion int64) error {
	return do(ctx, f, RemoveMember, func() error { return f.inner.RemoveMember(ctx, queue, state, batchID, maxVersion) })
}

// ListMembers implements [storage.MembershipStore].
func (f *Store) ListMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	return call(ctx, f, ListMembers, func() ([]storage.Member, error) { return f.inner.ListMembers(ctx, queue, state) })
}

// CreateApply implements [storage.ApplyStore].
func (f *Store) CreateApply(ctx context.Context, a storage.Apply) (storage.Apply, error) {
	return call(ctx, f, CreateApply, func() (storage.Apply, error) { return f.inner.CreateApply(ctx, a) })
}

// GetApply implements [storage.ApplyStore].
func (f *Store) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	return call(ctx, f, GetApply, func() (storage.Apply, error) { return f.inner.GetApply(ctx, id) })
}

// UpdateApply implements [storage.ApplyStore].
func (f *Store) UpdateApply(ctx context.Context, a storage.Apply, expectedVersion int64) (storage.Apply, error) {
	return call(ctx, f, UpdateApply, func() (storage.Apply, error) { return f.inner.UpdateApply(ctx, a, expectedVersion) })
}

// CreateOperation implements [storage.OperationStore].
func (f *Store) CreateOperation(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	return call(ctx, f, CreateOperation, func() (storage.Operation, error) { return f.inner.CreateOperation(ctx, op) })
}

// GetOperation implements [storage.OperationStore].
func (f *Store) GetOperation(ctx context.Context, applyID, id string) (storage.Operation, error) {
	return call(ctx, f, GetOperation, func() (storage.Operation, error) { return f.inner.GetOperation(ctx, applyID, id) })
}

// ListOperations implements [storage.OperationStore].
func (f *Store) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	return call(ctx, f, ListOperations, func() ([]storage.Operation, error) { return f.inner.ListOperations(ctx, applyID) })
}

// UpdateOperation implements [storage.OperationStore].
func (f *Store) UpdateOperation(ctx context.Context, op storage.Operation, expectedVersion int64) (storage.Operation, error) {
	return call(ctx, f, UpdateOperation, func() (storage.Operation, error) { return f.inner.UpdateOperation(ctx, op, expectedVersion) })
}

// DeleteBatch implements [storage.BatchStore].
func (f *Store) DeleteBatch(ctx context.Context, queue, id string, expectedVersion int64) error {
	return do(ctx, f, DeleteBatch, func() error { return f.inner.DeleteBatch(ctx, queue, id, expectedVersion) })
}

// DeleteApply implements [storage.ApplyStore].
func (f *Store) DeleteApply(ctx context.Context, id string, expectedVersion int64) error {
	return do(ctx, f, DeleteApply, func() error { return f.inner.DeleteApply(ctx, id, expectedVersion) })
}

// DeleteOperation implements [storage.OperationStore].
func (f *Store) DeleteOperation(ctx context.Context, applyID, id string, expectedVersion int64) error {
	return do(ctx, f, DeleteOperation, func() error { return f.inner.DeleteOperation(ctx, applyID, id, expectedVersion) })
}
