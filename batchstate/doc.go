// Package batchstate keeps a membership index of batches by state beside a
// pure CRUD / compare-and-swap batch store, so that "which batches of queue
// Q are in states S…" is a primary-key range read on any store — DynamoDB
// included — with no secondary index over a mutable column and no
// transactions.
//
// A batch lives in a queue and moves through the states of a [Machine]. The
// index holds one row (queue, state, batch id) per batch in a non-terminal
// state; terminal states are not indexed. The index is advisory: the batch
// row is authoritative, and every read filters by it.
//
// # Invariants
//
// I — never miss. Whenever a batch is stored in a non-terminal state S, the
// row (queue, S, id) exists. The orchestrator keeps it by ordering its
// writes:
//
//	Create:      AddMember(S, v1)      → CreateBatch
//	Transition:  AddMember(to, v+1)    → UpdateBatch(expect v) → RemoveMember(from, max v)   (best-effort)
//
// The row for a state is written before the batch can be in that state, so a
// crash at any point leaves at worst an extra row, never a missing one. The
// old row is removed only after the batch has left its state, and only if
// the row's version is at most the version the batch had there: a batch that
// re-entered the old state concurrently (cyclic machines) re-added the row
// with a higher version and keeps it.
//
// What List promises follows: a batch stored in a requested state for the
// whole of a List call is in its result. List reads one bucket per state and
// is not a snapshot across them, so a batch that moves between two requested
// states while the call runs may be missed by that call (the next one lists
// it); a caller that must know a queue is empty re-checks the batch rows.
//
// II — never misreport. [Orchestrator.List] returns only batches whose
// stored state is one of those asked for, each once: it reads the buckets,
// resolves every candidate with one GetBatches call and keeps a batch only
// if its current state was requested. Extra rows — from a lost
// compare-and-swap, a crashed create, a removal that failed — are filtered
// here and cleaned up by [Orchestrator.Reconcile].
//
// # Cleaning up
//
// List removes, best-effort, the rows of batches it finds terminal (safe:
// terminal is final and ids are never reused). It never removes a row whose
// batch does not exist: that row may belong to a Create between its two
// writes. Reconcile removes, each conditionally on the batch's stored
// version, rows of terminal batches, stale rows (the batch is in another
// state and its version is at least the row's, so the write that added the
// row is over), and dangling rows (no batch) older than the grace period.
//
// A row added by a transition whose compare-and-swap lost or crashed
// carries version v+1 while its batch stays at v: by versions alone it
// cannot be told from a transition still in flight. DESIGN.md keeps such a
// row until the batch moves on; Reconcile here also removes it once it is
// older than the grace period, the same bound that makes removing dangling
// rows safe, so that after a Reconcile the index holds exactly one row per
// live batch.
//
// # Operations
//
// Call Reconcile per queue periodically — every few minutes is plenty; it
// bounds the index's growth, correctness never depends on it. Choose the
// grace ([WithDanglingGrace], default 10 minutes) longer than the slowest
// Create can take between its membership write and its batch write,
// retries included: a shorter grace could remove the row of a create in
// flight. Treat an error from Transition as "unknown": re-read the batch and
// decide again (a lost race matches storage.ErrConflict).
//
// # Decisions
//
//   - Input errors (unknown states, terminal states passed to List, moves
//     out of terminal states or not in Transitions, bad keys, oversized
//     payloads, nil stores, an invalid Machine) match storage.ErrInvalid,
//     name the field and state, and happen before any store call. A
//     canceled context is returned before any store call too.
//   - List with no state is an input error, not an empty result.
//   - A Create directly into a terminal state is allowed and writes no row.
//   - Transition to the batch's current state is allowed when the machine
//     allows it (nil Transitions allow it): it rewrites the batch and bumps
//     the row's version.
//   - Best-effort failures are logged with log/slog at Warn (default
//     slog.Default(); see [WithLogger]).
//   - Reconcile reports failed removals in a joined error after finishing
//     the scan, and counts those rows as kept.
package batchstate
