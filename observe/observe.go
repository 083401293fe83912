// Package observe is the event API of statefold's orchestrators: give a
// [Hooks] to applystate.WithHooks or batchstate.WithHooks and it hears of
// every call of a public method (its start, and its end with the latency
// and the outcome) and of what happened within it: conflicts, retries,
// ambiguous writes, takeovers, index rows removed, writes fenced off,
// batches pruned, List re-reads.
//
// Every func of a Hooks is optional. OnStart may return a context derived
// from the one it gets (a span, say): the call runs under it, and the
// events of the call and its OnEnd get it. Given several Hooks, an
// orchestrator calls each in order. The hooks run on the caller's
// goroutine, inside the call: keep them quick and never let them fail.
// They observe: nothing they do changes what a call writes or returns.
//
// The module's otel package (its own module, so that the core module
// pulls in no OpenTelemetry) records these as OpenTelemetry metrics and
// spans.
package observe

import (
	"context"
	"time"
)

// Hooks receives the events of an orchestrator. The zero value observes
// nothing; every nil func is skipped.
type Hooks struct {
	// OnStart is called when a call of a public method starts, after its
	// input is known but before any store call. The context it returns
	// (nil: ctx) is the call's from then on.
	OnStart func(ctx context.Context, c Call) context.Context
	// OnEnd is called when the call returns, with the call's context (as
	// every hook's OnStart left it).
	OnEnd func(ctx context.Context, c Call, o Outcome)
	// OnEvent is called for each event within a call, with the call's
	// context.
	OnEvent func(ctx context.Context, e Event)
}

// Call is one call of a public method of an orchestrator.
type Call struct {
	// Orchestrator is the package: "applystate" or "batchstate".
	Orchestrator string
	// Method is the method called, for example "Drive" or "Transition".
	Method string
	// ApplyID and OperationID name the apply and the operation of an
	// applystate call, when it has them.
	ApplyID, OperationID string
	// Queue and BatchID name the queue and the batch of a batchstate call,
	// when it has them.
	Queue, BatchID string
	// Start is when the call started (time.Now, not the orchestrator's
	// clock).
	Start time.Time
}

// Outcome is how a call ended.
type Outcome struct {
	// Duration is the call's latency, measured with time.Now's monotonic
	// clock.
	Duration time.Duration
	// Err is the error the call returned, nil on success.
	Err error
	// ErrorType classifies Err, "" on success: the first that matches, in
	// this order — "ambiguous" (a write whose outcome is unknown:
	// storage.ErrAmbiguous, applystate.ErrAmbiguous), "not_owner",
	// "owned", "invalid", "not_found", "already_exists", "conflict",
	// "unavailable", "schema", "canceled", "deadline_exceeded" — or
	// "other".
	ErrorType string
	// State is the state the call left the apply or the batch in, as it
	// returned it; "" when it returns none (List, Reconcile) or failed.
	State string
	// Previous is the apply's state before the call (applystate calls
	// that return a Result).
	Previous string
	// Changed and Terminalized are the Result's (applystate): the call
	// wrote the apply; it moved it into a terminal state.
	Changed, Terminalized bool
	// Directive is the Result's Next ("proceed", "wait", "do_not_start",
	// "resume"), for applystate calls that return a Result.
	Directive string
	// Count is how many items the call returned (List, ListPage,
	// ListOpen, Lookup, ListFinished), or the index rows a Reconcile
	// scanned.
	Count int
}

// Kind is the kind of an [Event].
type Kind string

// The kinds of events.
const (
	// Conflict: a conditional write of the call lost to another write (the
	// store answered storage.ErrConflict or storage.ErrAlreadyExists).
	// Reason names the store method.
	Conflict Kind = "conflict"
	// Ambiguous: a write of the call whose outcome the store could not
	// tell (storage.ErrAmbiguous); the call reads back to decide. Reason
	// names the store method.
	Ambiguous Kind = "ambiguous"
	// Retry: the call starts another round (Attempt, from 2) after a write
	// it lost.
	Retry Kind = "retry"
	// Reread: a List reads the index again because a Reconcile overlapped
	// it (Reason "held" or "changed").
	Reread Kind = "reread"
	// Takeover: the call took over what another owner held — Acquire an
	// operation another owner held (Reason "operation"), Reconcile the
	// lease of a crashed Reconcile (Reason "lease").
	Takeover Kind = "takeover"
	// Removed: Reconcile removed Count index rows (Reason "terminal",
	// "stale" or "dangling", the ReconcileReport's counts), or the rows of
	// keys (Reason "key").
	Removed Kind = "removed"
	// Fenced: Reconcile fenced off a write that did not finish within the
	// grace: a transition (Reason "transition") or, with a tombstone, a
	// create (Reason "create").
	Fenced Kind = "fenced"
	// Pruned: Prune turned Count finished batches into tombstones
	// (batchstate), or deleted the operations of Count applies
	// (applystate).
	Pruned Kind = "pruned"
)

// Event is something that happened within a call.
type Event struct {
	// Kind is what happened.
	Kind Kind
	// Call is the call it happened in.
	Call Call
	// Reason is a short, fixed word that details the kind (see each Kind).
	Reason string
	// Count is how many rows or batches (Removed, Pruned); 1 otherwise.
	Count int
	// Attempt is the round a Retry starts (2 for the second).
	Attempt int
	// Err is the store's error (Conflict, Ambiguous), nil otherwise.
	Err error
}
