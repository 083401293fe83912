package storagetest

import (
	"github.com/statefold/statefold/internal/faultstore"
	"github.com/statefold/statefold/storage"
)

// FaultStore wraps a [storage.Store], counting calls and writes per
// [Method] and injecting [Fault]s: Inject arms one and returns its
// [Injection]; Calls, Writes, Counts, Conflicts and Hits read the counts;
// SetHook runs a function before every call; Inner is the wrapped store.
// It is safe for concurrent use. The suite drives stores through it; a
// backend's own tests can use it to fail or hold chosen calls.
type FaultStore = faultstore.Store

// NewFaultStore returns a FaultStore over inner with no faults.
func NewFaultStore(inner storage.Store) *FaultStore { return faultstore.New(inner) }

// Fault describes one injected fault: which calls it hits (the Call-th
// matching one, or every one when Call is 0; Methods and WritesOnly
// restrict the match) and what it does to them ([Mode]).
type Fault = faultstore.Fault

// Injection is the handle of an injected [Fault]: Reached is closed when
// it hits its first call, Hit names that call's method.
type Injection = faultstore.Injection

// Method names one method of [storage.Store]. It selects the calls a
// [Fault] applies to and keys the call counts of a [FaultStore]; IsWrite
// reports whether it may change stored data.
type Method = faultstore.Method

// The methods of [storage.Store].
const (
	CreateBatch     = faultstore.CreateBatch
	GetBatch        = faultstore.GetBatch
	GetBatches      = faultstore.GetBatches
	UpdateBatch     = faultstore.UpdateBatch
	AddMember       = faultstore.AddMember
	RemoveMember    = faultstore.RemoveMember
	ListMembers     = faultstore.ListMembers
	CreateApply     = faultstore.CreateApply
	GetApply        = faultstore.GetApply
	UpdateApply     = faultstore.UpdateApply
	CreateOperation = faultstore.CreateOperation
	GetOperation    = faultstore.GetOperation
	ListOperations  = faultstore.ListOperations
	UpdateOperation = faultstore.UpdateOperation
	DeleteBatch     = faultstore.DeleteBatch
	DeleteApply     = faultstore.DeleteApply
	DeleteOperation = faultstore.DeleteOperation
)

// The optional capabilities of a store, counted and faulted when the
// wrapped store offers them; they are not among [Methods].
const (
	ListSnapshot    = faultstore.ListSnapshot
	ListMembersPage = faultstore.ListMembersPage
	MoveBatch       = faultstore.MoveBatch
)

// Methods returns every [Method], reads and writes, in interface order.
func Methods() []Method { return faultstore.Methods() }

// Mode says what a [Fault] does to the call it hits.
type Mode = faultstore.Mode

const (
	// FailBefore returns the fault's error without performing the call: a
	// crash before the request reached the store.
	FailBefore = faultstore.FailBefore
	// FailAfter performs the call and then returns the fault's error
	// instead of its result: the ambiguous failure of a write that landed
	// but whose response was lost.
	FailAfter = faultstore.FailAfter
	// Block holds the call until the fault's Release channel is closed (or
	// the call's context ends), then performs it: a way to force
	// interleavings.
	Block = faultstore.Block
)

// ErrInjected is the error a [Fault] returns when its Err is nil.
var ErrInjected = faultstore.ErrInjected
