// Package storage holds statefold's entities, the four narrow store interfaces
// every backend implements, the error vocabulary and the input limits with the
// validation helpers that every layer uses.
//
// The package imports only the standard library. Backends (storage/memory,
// storage/mysql, storage/postgres, storage/dynamo or your own) only store and compare; all
// orchestration lives in the pure packages applystate and batchstate.
//
// # Writing a backend
//
// A backend implements [Driver] — the methods of [Store], called only with
// checked, normalized input — and its constructor returns
// [Checked](driver), the portable layer that checks every input (bad input
// is a [*FieldError], and the driver is not called), normalizes it and
// passes it on. Every backend of this module does so; a backend of your own
// needs no Validate* call. Prove it with the contract suite in
// storagetest, through the store the constructor returns.
//
// # Optional capabilities
//
// A store may also offer [Snapshotter] (the rows of a queue's buckets
// joined with their batches, read at one instant, whole or by page) and
// [MemberPager] (a bucket read by page, in batch id order). batchstate's
// List and ListPage use them when the store offers them: the SQL backends
// answer a List in one statement instead of three round trips, and a page
// reads no more than its rows. A caller falls back to the Store methods
// when a store lacks one or answers [errors.ErrUnsupported] (Checked
// forwards both, checking their input, and answers that when its driver
// lacks them). storagetest's Snapshot area checks them against the Store
// methods.
//
// The backends of this module share one convention: New takes functional
// options and returns an error, before any I/O, for a bad argument, a nil
// option (a caller's bug, never a default) or an option out of range, each
// matching [ErrInvalid] and naming the option; nothing is clamped.
//
// # Errors
//
// Every failure a caller must tell apart is one of six sentinels, compared
// with [errors.Is]: [ErrNotFound], [ErrAlreadyExists], [ErrConflict],
// [ErrInvalid], [ErrUnavailable] and [ErrAmbiguous]. Among the first four
// exactly one applies per situation: an update of a missing row is
// ErrNotFound, never ErrConflict. A call the store could not serve (a
// timeout, throttling, a lost connection) matches ErrUnavailable; a write
// that may have landed matches ErrAmbiguous as well, never success or a
// plain ErrConflict. Backends wrap their native error as well, so errors.As
// still reaches it. A backend's startup Check reports tables it cannot use
// (missing, not migrated, or a later release's) as [ErrSchema], naming
// what to run.
//
// Input errors are [*FieldError] values: they match ErrInvalid and name the
// offending field. A call that returns ErrInvalid has written nothing.
//
// # Keys
//
// Keys (queue, batch id, state, apply id, operation id) are non-empty, valid
// UTF-8 and at most [MaxKeyBytes] bytes. They are compared byte for byte: "Q"
// and "q" differ, "a" and "a " differ, and any character — '#', '/', ':', '%'
// and NUL included — is allowed and never makes two keys collide.
//
// # Values
//
// Payloads are opaque bytes of at most [MaxPayloadBytes]; nil and empty are the
// same, and a store returns an empty payload as nil. Error messages are valid
// UTF-8 of at most [MaxMessageBytes]. Times are stored and returned in UTC at
// microsecond precision; the zero time means "not set" and round-trips as the
// zero time. Stores apply [NormalizeTime] to what they are given, so every
// backend returns the same value; callers should set timestamps already
// truncated to the microsecond.
//
// # Versions
//
// Every row but a membership row carries a Version: 1 after create and exactly
// expectedVersion+1 after each successful compare-and-swap update. The Version
// in the value passed to Create or Update is ignored.
//
// # Rules every store follows
//
//   - Optional string fields (Operation.Deployment, Group, OnFailure, and
//     ErrorMessage fields) may be empty but must be valid UTF-8 and within
//     their limits, so that every backend (DynamoDB strings are UTF-8) can store
//     them.
//   - Non-zero times must lie within [MinTime, MaxTime], the range every
//     backend (MySQL DATETIME(6) included) can represent.
//   - Reads validate their keys too: a Get of an over-long key is ErrInvalid,
//     not ErrNotFound.
//   - expectedVersion and Member.Version must be at least 1; RemoveMember's
//     maxVersion must not be negative.
package storage
