// Package storagetest is statefold's contract suite: the tests, fault
// injection and benchmarks that prove a storage.Store correct and measure
// it. It is an ordinary package so that anyone can run it against their
// own backend:
//
//	func TestContract(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { return mystore.New(...) })
//	}
//
//	func BenchmarkStore(b *testing.B) {
//		storagetest.RunBenchmarks(b, func(b *testing.B) storage.Store { return mystore.New(...) })
//	}
//
// newStore may return one shared store every time: every subtest uses its
// own random queue and apply ids, so runs against a persistent database
// never collide. The subtests run in parallel.
//
// # Rules the suite pins down
//
//   - A nil and an empty payload are the same value: a store may return
//     either for a row written with either, and the suite only requires
//     len(Payload) == 0 (the memory store returns nil). A payload of
//     exactly storage.MaxPayloadBytes and all 256 byte values come back
//     byte for byte; slices are never aliased between caller and store,
//     in either direction: a caller may write into a payload it passed to
//     a write or got from any read (GetBatch, GetBatches, GetApply,
//     GetOperation, ListOperations) without changing the stored row.
//   - Times come back in UTC truncated to the microsecond, whatever the
//     location they were written in; zero times stay zero.
//   - Update writes every non-key field, so zero values clear: an update
//     with a nil payload, zero times, false booleans or empty labels
//     stores exactly that.
//   - Out of range is rejected, never repaired: a non-zero time before
//     storage.MinTime or after storage.MaxTime, an operation's Deployment,
//     Group, OnFailure or Owner longer than storage.MaxKeyBytes or not
//     valid UTF-8, and a negative OwnerToken, are ErrInvalid with nothing
//     written; a store that clamps the time or truncates or repairs the
//     label fails. The bounds themselves are valid and come back exactly.
//   - An operation's Owner, OwnerToken, OwnerUntil and ReleasedAt come back
//     exactly, set or zero, after a create and after an update.
//   - Input errors match storage.ErrInvalid and no other sentinel; for
//     payloads, messages, a member's Version and an operation's Owner,
//     OwnerToken, OwnerUntil and ReleasedAt the message must name the field.
//     Key errors are only required to match ErrInvalid, since a backend
//     may name a method argument its own way.
//
// # Areas
//
// [Run] runs one subtest per [Area] (see [Areas] for the list and what each
// proves): CRUD, compare-and-swap (a stale version is exactly ErrConflict;
// for a batch, the right version with another expected state — compared
// byte for byte — is exactly ErrConflict too, and either leaves the row's
// version, state and payload untouched; a missing row is exactly
// ErrNotFound; exactly one of 16 racing writers wins, in each of 8 races
// per entity, so that a store checking the version and then writing
// without a conditional write fails), membership (upsert never
// lowers a version: an AddMember below the stored version is exactly
// ErrConflict and changes nothing, an equal or higher one succeeds, so a
// retried add that landed succeeds; conditional removal; bucket and queue
// isolation), keys compared byte for byte (case, trailing spaces,
// separators, NUL, non-ASCII, state prefixes), validation (ErrInvalid and
// nothing written, a bad expected state of a batch update, out-of-range
// times and bad labels included), round trips (all 256 byte values, UTC
// microsecond times, zero times, booleans, payloads never aliased on reads),
// and the orchestration end to end:
//
//   - crash points: for each of batchstate's Create, Transition, List and
//     Reconcile and applystate's Drive (a report, and a start's claim),
//     Stop and Reproject, the k-th store
//     call fails — before it runs, or after it ran (an ambiguous failure) —
//     for every k until the call completes without reaching k. After each,
//     the batch invariants hold ([CheckListed]), a fault-free Reconcile with
//     the grace elapsed leaves exactly one index row per live batch
//     ([CheckIndexExact]), the apply is never terminal while an operation
//     holds its target ([CheckApplyNotEarly]), a fault-free Reproject makes
//     it Rollout over its operations ([CheckApplyProjected]), and
//     Terminalized is reported at most once (exactly once unless the
//     terminalizing write's response itself was lost, or the caller got
//     applystate.ErrAmbiguous). The number of crash points explored is
//     logged. [CrashPointsWith] runs them with the calls under test on
//     another handle, such as a client under network faults.
//   - concurrency: cyclic transitions under a continuous reader, where
//     nothing goes terminal, so every listing must return every batch
//     exactly once; 16 sibling drives of one apply, 50 rounds; racing
//     AddMember / RemoveMember with interleaved versions (an AddMember that
//     finds a newer row may fail with ErrConflict; the highest never does).
//     Under -short the sizes shrink.
//   - races: one deterministic test per known batchstate race, forced by
//     holding one caller's store call (a Block fault) while another runs:
//     a retried or slow or clock-skewed Create against Reconcile, a List
//     against a batch moving between two listed states (with and without a
//     Reconcile removing its old row meanwhile), a Transition from an
//     edited state, and one with a version the batch never had.
//   - churn: workers move batches between three states while a janitor
//     reconciles and a reader lists all three; every List that answers must
//     return every batch ([WithChurnLists] sets how many Lists).
//   - bad input to every entry point of batchstate and applystate:
//     ErrInvalid (or context.Canceled) and zero writes.
//
// The Interleavings area is the explorer: a deterministic scheduler runs two
// or three actors (batchstate calls) over a store wrapper where every store
// call is one step, and runs every schedule within bounds on preemptions,
// injected write faults and clock jumps past the grace, then seeded random
// ones. After every step it checks invariants I and IV; at the end, II and
// III for every List, that every successful Create left its batch, and V
// after a converging Reconcile. The orchestrators read their buckets one at
// a time (batchstate.WithListConcurrency(1)) so that every actor has at most
// one store call pending; a store's own fan-out inside one call (DynamoDB's
// chunked BatchGetItem) is one step. A violation prints its schedule;
// STATEFOLD_SCHEDULE=<scenario>:<schedule> replays it alone (see [Explore],
// [Replay], [Exploration], [WithExploration]). The log says how many
// schedules each scenario explored.
//
// The applystate scenarios run drive loops, Stop, ReleasePause, Reproject
// and CreatePlan the same way. After every step: the apply is never
// terminal while an operation holds its target, a settled operation never
// changes, a stopped one never returns to pending, and nothing starts once
// the apply is terminal or a stop was requested. At the end: Terminalized
// was seen once per terminal apply (or the caller got ErrAmbiguous); when
// every actor succeeded the stored apply is already the projection of its
// operations and no open apply keeps a claimed start that nobody runs; and
// after one Reproject the apply is the projection of its operations.
//
// The ModelCheck area holds the orchestrators to a specification written
// from their documentation, not to their own projection: [CheckModel]
// generates scenarios from a seed — applystate plans of 2–5 operations
// with sequence groups, finalizers and the three failure policies, driven
// by loops that run twice, report late or backwards, or crash between
// writes, beside Stop, ReleasePause, Reproject and CreatePlan retried with
// the same or another plan; batchstate queues on random machines (cycles
// included) with creates, moves, Lists, Reconciles, skewed clocks and
// clock jumps — explores each (bounded on a store in memory, sampled over
// a network: [RemoteModelCheck]) and checks every schedule's history of
// calls and results against the promises: no Proceed on a stopped,
// terminal, halted or paused rollout, one Terminalized, never terminal
// while a started operation runs, rows that only move forward and never
// after the apply is terminal, releases of failures only, plans that do
// not merge, the projection the rows give after a Reproject; I–V and
// Create for batchstate. A violation is minimized — the scenario, then the
// schedule — and printed with STATEFOLD_MODEL=<scenario>#<schedule>, which
// replays it alone. STATEFOLD_EXPLORE_SCALE scales the check's budget.
// A replay never passes an area: it fails with what it showed, so neither
// variable can turn a contract run green on its own.
//
// The suite's own tests run the store areas on deliberately broken stores
// (an upserting create, duplicate GetBatches rows, a compare-and-swap that
// ignores the version or the state or is not atomic, a lower-version
// AddMember that overwrites or reports success, case-folded keys, clamped
// times, repaired labels, a read cache that hands out its own payloads) and
// require each to fail in the one area that owns the broken rule. The
// repository's internal/plant plants known orchestrator bugs into copies of
// their source (fixes reverted, protocol steps dropped, rules broken) and
// requires the model check alone to find each.
//
// # Classification of failures below your store
//
// Callers decide from your store's errors whether a write may have landed,
// so each failure below the store must come back classified: a write that
// may have landed is storage.ErrAmbiguous, a call that could not be served
// is storage.ErrUnavailable, the caller's own context ending is the
// context's error. [RunClassification] checks this method by method. You
// implement a [ClassificationHarness]: your store, its client or driver
// layer wrapped by a Go wrapper of your own, and Arm, which arms one
// failure of a [FailureKind] for the store's next request — it fails
// before it is sent (refused, or a dial timeout that is not the caller's
// deadline), it is applied and its response lost, the server
// answers with an error and rolls it back, the caller's context ends
// before sending or in flight:
//
//	func TestClassification(t *testing.T) {
//		storagetest.RunClassification(t, "mystore", &classificationHarness{})
//	}
//
// Every kind runs against every method of storage.Store, each on rows of
// its own; the answer ([Classify]) and, for a write, whether the row was
// written (read back) are compared with the kind's documented row
// ([FailureKind.Want]). A wrong cell fails with the kind, the method, the
// documented answer and the one that came back, and the log says
// "classification on mystore: N cases, W wrong". A cell your backend cannot
// meet is declared with [Impossible] and its reason, and logged, never
// skipped in silence. Failures a Go wrapper cannot make (a proxy cutting
// connections, the server's own lock timeouts) run through
// [CheckClassification] with a [ClassificationMatrix] of your documented
// answers. The repository's examples/custombackend shows a whole harness.
//
// # Tools
//
// [FaultStore] wraps any store to count calls, writes and lost
// compare-and-swaps per [Method], and to inject a [Fault] on the k-th
// matching call: fail before it, perform it and then fail, or block it
// until released. The Check functions return an error describing each
// violation, so they can be used in any test.
package storagetest
