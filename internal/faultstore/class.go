package faultstore

import "fmt"

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
	// UpdateOperation, and the conditional deletes DeleteBatch,
	// DeleteApply and DeleteOperation (a compare-and-swap whose new row is
	// none: the same answers).
	ClassCompareAndSwaps
	// ClassAddMember holds AddMember, an upsert.
	ClassAddMember
	// ClassRemoveMember holds RemoveMember, a conditional delete.
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
func (c MethodClass) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("MethodClass(%d)", int(c))
	}
	return classNames[c]
}

// Class returns the method's column of the classification matrix.
func (m Method) Class() MethodClass {
	switch m {
	case CreateBatch, CreateApply, CreateOperation:
		return ClassCreates
	case UpdateBatch, UpdateApply, UpdateOperation, DeleteBatch, DeleteApply, DeleteOperation:
		return ClassCompareAndSwaps
	case AddMember:
		return ClassAddMember
	case RemoveMember:
		return ClassRemoveMember
	}
	return ClassReads
}
