// Package storagetest is statefold's contract suite: the tests, fault
// injection and benchmarks that prove a storage.Store correct and measure
// it. Run it against your own backend:
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
// own random queue and apply ids ([UniqueID]), so runs against a persistent
// database never collide. The subtests run in parallel. [RunHarness] does
// the same with a [Harness] and closes it when every area is done.
//
// # Rules the suite pins down
//
//   - A nil and an empty payload are the same value: only len(Payload) == 0
//     is required. A payload of exactly storage.MaxPayloadBytes and all 256
//     byte values come back byte for byte; slices are never aliased between
//     caller and store, in either direction.
//   - Times come back in UTC truncated to the microsecond, whatever the
//     location they were written in; zero times stay zero.
//   - Update writes every non-key field, so zero values clear.
//   - Out of range is rejected, never repaired: a time outside
//     [storage.MinTime, storage.MaxTime], a label longer than
//     storage.MaxKeyBytes or not valid UTF-8, a negative OwnerToken or
//     ProjectedVersion are
//     ErrInvalid with nothing written. The bounds themselves are valid.
//   - Input errors match storage.ErrInvalid and no other sentinel; for
//     payloads, messages, a member's Version and an operation's owner
//     fields the message names the field.
//
// # Areas
//
// [Run] runs one subtest per [Area] ([Areas] lists them with what each
// proves): CRUD; compare-and-swap (a stale version, or another expected
// batch state, is exactly ErrConflict and changes nothing; exactly one of
// 16 racing writers wins, in each of 8 races per entity); conditional
// deletes (only at the stored version; one of racing deleters wins, and
// one of a delete and an update); membership (an
// upsert never lowers a version; conditional removal; isolation); the
// optional capabilities storage.Snapshotter and storage.MemberPager checked
// against the Store methods when the store offers them; keys
// compared byte for byte; validation; round trips; and three areas that run
// batchstate and applystate on your store:
//
//   - Orchestration: crash points (the k-th store call of every
//     orchestrator entry point fails before or after it runs, for every k,
//     and the invariants still hold; the count explored is logged), one
//     deterministic test per known race, concurrency, churn under a reader
//     and a janitor ([WithChurnLists]), ownership, and bad input.
//   - Interleavings: a deterministic scheduler runs small scenarios of
//     concurrent orchestrators, one store call per step, through every
//     schedule within bounds on preemptions, injected faults and clock
//     jumps, then random ones ([Exploration], [WithExploration]), checking
//     batchstate's invariants I–V and applystate's rules after every step.
//     The log ends with "interleavings explored: N schedules, V violations,
//     C of S scenarios complete".
//   - ModelCheck: generated scenarios — applystate plans with sequence
//     groups, finalizers and every failure policy, driven by loops that
//     repeat, report late or crash, beside Stop, ReleasePause, Reproject
//     and CreatePlan; batchstate queues on random machines — each explored
//     and checked against a specification written from the documentation
//     ([ModelCheck], [WithModelCheck]). The log ends with "model check: N
//     scenarios, M schedules, V violations".
//
// A violation prints its scenario and schedule, minimized, and how to
// replay it alone: STATEFOLD_SCHEDULE=<scenario>:<schedule> for an
// interleaving, STATEFOLD_MODEL=<scenario>#<schedule> for the model check.
// A replay never passes its area, so neither variable can turn a run green
// on its own. STATEFOLD_EXPLORE_SCALE multiplies the model check's budget.
//
// A store over a network is slower: [WithScale] shrinks the repeated parts,
// and [RemoteModelCheck] is a model check sized for it:
//
//	storagetest.RunHarness(t, h, storagetest.WithScale(0.5),
//		storagetest.WithModelCheck(storagetest.RemoteModelCheck()))
//
// # Faults below your store
//
// To run the orchestrators through failures of your own transport (a proxy
// that cuts connections, a client that loses responses), pass two handles
// on the same data: actors, whose calls fail, and store, which the checks
// read. [ExploreAllWith], [CrashPointsWith] and [CheckModelWith] do that for
// the Interleavings, crash points and ModelCheck areas, and
// [CheckLinearizable] checks a history of concurrent calls through them.
//
// # Classification of failures below your store
//
// Callers decide from your store's errors whether a write may have landed:
// a write that may have landed is storage.ErrAmbiguous, a call that could
// not be served is storage.ErrUnavailable, the caller's context ending is
// the context's error. [RunClassification] checks this method by method.
// You implement a [ClassificationHarness]: your store, with its client or
// driver layer behind a Go wrapper of your own, and Arm, which arms one
// failure of a [FailureKind] for the store's next request:
//
//	func TestClassification(t *testing.T) {
//		storagetest.RunClassification(t, "mystore", &classificationHarness{})
//	}
//
// Each answer ([Classify]) and, for a write, whether the row was written
// are compared with the kind's documented row ([FailureKind.Want]); the log
// says "classification on mystore: N cases, W wrong". Declare a cell your
// backend cannot meet with [Impossible] and its reason. Failures a wrapper
// cannot make run through [CheckClassification] with a
// [ClassificationMatrix] of your documented answers. The repository's
// examples/custombackend shows a whole harness.
//
// # Tools
//
// [FaultStore] wraps any store to count calls, writes and lost
// compare-and-swaps per [Method], and to inject a [Fault] on the k-th
// matching call: fail before it, perform it and then fail, or hold it
// until released.
package storagetest
