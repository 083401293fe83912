package storage

import "time"

// Batch is one unit of work moving through the states of a queue. The pair
// (Queue, ID) is its key.
type Batch struct {
	// Queue is the partition the batch belongs to.
	Queue string
	// ID identifies the batch within its queue. IDs are never reused.
	ID string
	// State is the batch's current state; see package batchstate.
	State string
	// Version is 1 after create and exactly expectedVersion+1 after each
	// update. Stores ignore the value passed in.
	Version int64
	// Payload is opaque application data, at most MaxPayloadBytes.
	Payload []byte
	// CreatedAt is set by the caller at create and rewritten on every update.
	CreatedAt time.Time
	// UpdatedAt is set by the caller on every write.
	UpdatedAt time.Time
}

// Member is one row of the membership index: batch BatchID of queue Queue is
// (or recently was) in state State. The triple (Queue, State, BatchID) is its
// key. The index is advisory; the batch row is authoritative.
type Member struct {
	// Queue is the partition.
	Queue string
	// State is the bucket within the queue.
	State string
	// BatchID is the member.
	BatchID string
	// Version is the batch version this row was added for.
	Version int64
	// AddedAt is when the row was (last) added.
	AddedAt time.Time
}

// Apply is one rollout. Its State is a projection over all its operations;
// see package applystate.
type Apply struct {
	// ID is the key.
	ID string
	// State is the projected rollout state.
	State string
	// ErrorMessage describes the first failed operation, if any.
	ErrorMessage string
	// StopRequested records that a stop was asked for.
	StopRequested bool
	// PauseReleased records that every pause hold was released, as written
	// by earlier versions of applystate; ReleasePause now records each
	// release on the released operation (its Operation.ReleasedAt) and
	// clears this flag.
	PauseReleased bool
	// StartedAt is when the apply left pending; zero means not yet.
	StartedAt time.Time
	// CompletedAt is when the apply settled; zero means not yet.
	CompletedAt time.Time
	// Payload is opaque application data, at most MaxPayloadBytes.
	Payload []byte
	// Version is 1 after create and exactly expectedVersion+1 after each
	// update. Stores ignore the value passed in.
	Version int64
	// CreatedAt is set by the caller.
	CreatedAt time.Time
	// UpdatedAt is set by the caller on every write.
	UpdatedAt time.Time
}

// Operation is the part of an apply that targets one deployment. The pair
// (ApplyID, ID) is its key.
//
// Owner, OwnerToken, OwnerUntil and ReleasedAt were added after the first
// release: a row written by an earlier release reads with them zero, and
// every store keeps them like any other field.
type Operation struct {
	// ApplyID is the owning apply and the partition.
	ApplyID string
	// ID identifies the operation within its apply.
	ID string
	// Seq is the rollout order: operations are ordered by (Seq, ID).
	Seq int64
	// Deployment names the target; it appears in the apply's ErrorMessage.
	Deployment string
	// Group is optional: work and its finalizer share a group.
	Group string
	// Finalizer marks an operation that runs after the work of its group.
	Finalizer bool
	// State is the operation's state.
	State string
	// OnFailure is the failure policy: "halt" (the default when empty),
	// "continue" or "pause".
	OnFailure string
	// ErrorMessage is the operation's failure message, if any.
	ErrorMessage string
	// StartedAt is when the operation left pending; zero means not yet.
	StartedAt time.Time
	// CompletedAt is when the operation settled; zero means not yet.
	CompletedAt time.Time
	// Projected records that the apply has been projected over this row as
	// stored: package applystate sets it after the apply write that followed
	// the row's last change, so a poll that changes nothing need not read
	// the other operations. A store keeps it like any other field.
	Projected bool
	// ProjectedVersion is the row version the acknowledgement (Projected)
	// was written for: the version its write created. The row is
	// acknowledged only while Version equals it, so a later write by a
	// release that does not know these fields — which keeps them as stored
	// but bumps Version — un-acknowledges the row. 0 means none; it is
	// never negative. A store keeps it like any other field; rows written
	// before it was added read 0.
	ProjectedVersion int64
	// Owner identifies the drive loop that holds the operation (its owner
	// identity, a label of at most MaxKeyBytes bytes); empty means none.
	Owner string
	// OwnerToken is the fencing token of the operation's latest
	// acquisition: 0 means never acquired, and each acquisition writes a
	// larger one than every earlier acquisition of the operation. It is
	// never negative.
	OwnerToken int64
	// OwnerUntil is when the current ownership lapses; zero means no
	// ownership is held.
	OwnerUntil time.Time
	// ReleasedAt is when ReleasePause released this operation's failure
	// under the pause policy; zero means not released. OnFailure keeps the
	// policy the plan declared: a failed pause operation with ReleasedAt
	// set counts as continue.
	ReleasedAt time.Time
	// Payload is opaque application data, at most MaxPayloadBytes.
	Payload []byte
	// Version is 1 after create and exactly expectedVersion+1 after each
	// update. Stores ignore the value passed in.
	Version int64
	// CreatedAt is set by the caller.
	CreatedAt time.Time
	// UpdatedAt is set by the caller on every write.
	UpdatedAt time.Time
}
