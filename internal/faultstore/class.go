package faultstore

import "github.com/statefold/statefold/internal/enum"

// MethodClass is a class of store methods that answer a failure alike: one
// column of the classification matrix of the contract suite.
type MethodClass int

// The method classes, in the matrix's column order.
const (
	// ClassReads holds GetBatch, GetBatches, ListMembers, GetApply,
	// GetOperation and ListOperations.
	ClassReads MethodClass = iota
	// ClassCreates holds CreateBatch, CreateApply and CreateOperation.
	ClassCreates
	// ClassCompareAndSwaps holds UpdateBatch, UpdateApply and
	// UpdateOperation, and MoveBatch (storage.Mover), whose failure is
	// classified as a compare-and-swap's.
	ClassCompareAndSwaps
	// ClassAddMember holds AddMember, an upsert.
	ClassAddMember
	// ClassRemoveMember holds the conditional deletes: RemoveMember, and
	// DeleteBatch, DeleteApply and DeleteOperation, which every backend
	// sends as it sends RemoveMember (on DynamoDB once, without the SDK's
	// retries: a resend after a landed delete finds no row and cannot
	// tell it from another caller's delete).
	ClassRemoveMember
)

// classNames are the matrix's column headings.
var classNames = [...]string{"reads", "creates", "compare-and-swaps", "AddMember", "RemoveMember"}

// MethodClasses returns every [MethodClass] in column order.
func MethodClasses() []MethodClass {
	return []MethodClass{ClassReads, ClassCreates, ClassCompareAndSwaps, ClassAddMember, ClassRemoveMember}
}

// String returns the class's column heading, as the built-in backends'
// classification tables spell it ("reads", "creates",
// "compare-and-swaps", "AddMember", "RemoveMember").
func (c MethodClass) String() string { return enum.Name("MethodClass", classNames[:], c) }

// Class returns the method's column of the classification matrix.
func (m Method) Class() MethodClass {
	switch m {
	case CreateBatch, CreateApply, CreateOperation:
		return ClassCreates
	case UpdateBatch, UpdateApply, UpdateOperation, MoveBatch:
		return ClassCompareAndSwaps
	case AddMember:
		return ClassAddMember
	case RemoveMember, DeleteBatch, DeleteApply, DeleteOperation:
		return ClassRemoveMember
	}
	return ClassReads
}
