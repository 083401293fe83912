package storage

import "context"

// BatchStore is a pure CRUD / compare-and-swap store of batches.
type BatchStore interface {
	// CreateBatch stores b with Version 1 and returns the stored row. An
	// existing key is ErrAlreadyExists and the existing row is untouched.
	CreateBatch(ctx context.Context, b Batch) (Batch, error)
	// GetBatch returns the batch (queue, id) or ErrNotFound.
	GetBatch(ctx context.Context, queue, id string) (Batch, error)
	// GetBatches returns the batches of queue whose ids are listed, found rows
	// only, each once, in any order. Duplicates in ids are allowed; empty ids
	// return no rows.
	GetBatches(ctx context.Context, queue string, ids []string) ([]Batch, error)
	// UpdateBatch writes every non-key field of b if the stored row has
	// version expectedVersion and state expectedState (compared byte for
	// byte), and returns the stored row with Version expectedVersion+1. A
	// missing row is ErrNotFound; another version or another state is
	// ErrConflict, and the stored row is untouched. expectedState is a key
	// (see ValidateKey): the condition on the state is what lets a caller
	// move a batch only out of the state it read, with no read before the
	// write.
	UpdateBatch(ctx context.Context, b Batch, expectedVersion int64, expectedState string) (Batch, error)
	// DeleteBatch deletes the batch (queue, id) if its stored version is
	// expectedVersion (see [ApplyStore.DeleteApply] for the answers). It
	// touches no membership row.
	DeleteBatch(ctx context.Context, queue, id string, expectedVersion int64) error
}

// MembershipStore stores the (queue, state, batch_id) membership index.
type MembershipStore interface {
	// AddMember upserts m: if the row is absent or m.Version >= its Version,
	// the row becomes m (Version and AddedAt). If the stored row has a higher
	// Version, nothing changes and the error is ErrConflict: the caller
	// learns that its row was not written (an equal Version is a success,
	// so a retried add of a row that landed succeeds).
	AddMember(ctx context.Context, m Member) error
	// RemoveMember deletes the row (queue, state, batchID) only if its
	// Version <= maxVersion. An absent or newer row is success, untouched.
	RemoveMember(ctx context.Context, queue, state, batchID string, maxVersion int64) error
	// ListMembers returns every row of the bucket (queue, state), in any
	// order, read after write.
	ListMembers(ctx context.Context, queue, state string) ([]Member, error)
}

// ApplyStore is a pure CRUD / compare-and-swap store of applies.
type ApplyStore interface {
	// CreateApply stores a with Version 1; an existing id is ErrAlreadyExists.
	CreateApply(ctx context.Context, a Apply) (Apply, error)
	// GetApply returns the apply or ErrNotFound.
	GetApply(ctx context.Context, id string) (Apply, error)
	// UpdateApply writes every non-key field of a if the stored version is
	// expectedVersion: ErrNotFound for a missing row, ErrConflict otherwise.
	UpdateApply(ctx context.Context, a Apply, expectedVersion int64) (Apply, error)
	// DeleteApply deletes the apply if its stored version is
	// expectedVersion: a conditional delete, a row removed only at the
	// version the caller read. A missing row is ErrNotFound; another
	// version is ErrConflict, and the stored row is untouched. A delete
	// whose outcome the store cannot tell (its response was lost, or a
	// retry of it found no row) matches ErrAmbiguous: read the row again.
	// It touches no operation of the apply.
	DeleteApply(ctx context.Context, id string, expectedVersion int64) error
}

// OperationStore is a pure CRUD / compare-and-swap store of operations.
type OperationStore interface {
	// CreateOperation stores op under (ApplyID, ID) with Version 1; an
	// existing key is ErrAlreadyExists.
	CreateOperation(ctx context.Context, op Operation) (Operation, error)
	// GetOperation returns the operation or ErrNotFound.
	GetOperation(ctx context.Context, applyID, id string) (Operation, error)
	// ListOperations returns every operation of the apply, in any order.
	ListOperations(ctx context.Context, applyID string) ([]Operation, error)
	// UpdateOperation writes every non-key field of op if the stored version
	// is expectedVersion: ErrNotFound for a missing row, ErrConflict
	// otherwise.
	UpdateOperation(ctx context.Context, op Operation, expectedVersion int64) (Operation, error)
	// DeleteOperation deletes the operation (applyID, id) if its stored
	// version is expectedVersion (see [ApplyStore.DeleteApply] for the
	// answers).
	DeleteOperation(ctx context.Context, applyID, id string, expectedVersion int64) error
}

// Store is a complete backend.
type Store interface {
	BatchStore
	MembershipStore
	ApplyStore
	OperationStore
}
