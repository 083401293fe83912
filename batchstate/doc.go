// Package batchstate keeps a membership index of batches by state beside a
// pure CRUD / compare-and-swap batch store, so that "which batches of queue
// Q are in states S…" is a primary-key range read on any store — DynamoDB
// included — with no secondary index over a mutable column and no
// transactions.
//
// A batch lives in a queue and moves through the states of a [Machine]. The
// index holds one row (queue, state, batch id, version) per batch in a
// non-terminal state; terminal states are not indexed. The index is
// advisory: the batch row is authoritative, and every read filters by it.
//
// # Invariants
//
// I — never miss. Whenever a batch is stored in a non-terminal state S, the
// row (queue, S, id) exists. The orchestrator keeps it by ordering its
// writes; v is the version the caller read:
//
//	Create(S):         AddMember(S, version 1)
//	                   → CreateBatch                  (failure: return it, keep the row)
//
//	Transition(F→T):   AddMember(T, version v+1)      (failure: return it, no CAS)
//	                   → UpdateBatch(expect v)        (failure: return the original batch, keep the row)
//	                   → RemoveMember(F, max v)       (best-effort: a failure is logged)
//
// Why this keeps I:
//
//   - The row for a state is written before the batch can be in that state.
//     A crash or an error at any point leaves at worst an extra row, never a
//     missing one, and an error never proves a write did not land, so rows
//     are kept on every failure path.
//   - The old row is removed only after the compare-and-swap took the batch
//     out of F, and only if the row's version is at most v. A batch that
//     re-entered F meanwhile (cyclic machines: F→T→F while the first
//     removal is delayed) did so by a transition that added (F, v+2) first;
//     the late RemoveMember(F, max v) leaves it alone.
//
// The cyclic race, with t1's removal delayed until after t2:
//
//	t1: AddMember(T, v+1) → CAS v→v+1 ································· RemoveMember(F, max v): no-op, the row is v+2
//	t2:                               AddMember(F, v+2) → CAS v+1→v+2 → RemoveMember(T, max v+1)
//
// An unconditional removal in t1 would delete (F, v+2) and leave a batch
// stored in F with no row, missed by every List until it moves again.
//
// What List promises follows: a batch stored in a requested state for the
// whole of a List call is in its result. List reads one bucket per state and
// is not a snapshot across them, so a batch that moves between two requested
// states while the call runs may be missed by that call (the next one lists
// it); a caller that must know a queue is empty re-checks the batch rows.
//
// II — never misreport. [Orchestrator.List] returns only batches whose
// stored state is one of those asked for, each once: it reads the buckets,
// resolves every candidate with one GetBatches call, and keeps a batch only
// if its queue matches and its current state was requested. Extra rows —
// from a lost compare-and-swap, a crashed create, a removal that failed —
// are filtered here and cleaned up by [Orchestrator.Reconcile].
//
// # Cleaning up
//
// List removes, best-effort, the rows of batches it finds terminal (safe:
// terminal is final and ids are never reused). It never removes a row whose
// batch does not exist: that row may belong to a Create between its two
// writes. Reconcile removes rows of terminal batches, stale rows (the batch
// is in another state and its version is at least the row's, so the write
// that added the row is over) and dangling rows (no batch) older than the
// grace period, each with a version bound that spares a row re-added since.
//
// A row one version ahead of its batch, in a state the batch is not in, was
// added by a transition whose compare-and-swap has not landed — still in
// flight, lost to an error, or crashed. By versions alone it cannot be told
// from a retry of that transition, which adds the very same row: removing
// it could take the live row of a batch the retry just moved. Reconcile
// therefore keeps it within the grace period, and past it fences the
// transition off: it rewrites the batch unchanged with UpdateBatch at the
// version it read, which bumps Version and nothing else. The crashed
// compare-and-swap can then never land, the row is stale, and it is
// removed. If the fence loses its compare-and-swap, the batch moved
// meanwhile and the row is kept for the next Reconcile. So after a
// Reconcile on a quiet queue with the grace elapsed, the index holds
// exactly one row per non-terminal batch.
//
// # Operations
//
//   - Call Reconcile per queue periodically — every few minutes is plenty,
//     and rarely is fine; it bounds the index's growth, correctness never
//     depends on it. It reads every bucket of the queue, so run it from one
//     janitor per queue rather than from every worker.
//   - Choose the grace ([WithDanglingGrace], default 10 minutes) longer than
//     the slowest Create or Transition can take between its membership
//     write and its batch write, retries of a store call included: a
//     shorter grace could remove the row of a Create in flight, or fence a
//     Transition in flight (which then fails with storage.ErrConflict).
//   - Treat an error from Create or Transition as "unknown": re-read the
//     batch and decide again. A lost race matches storage.ErrConflict.
//   - Watch the Warn logs of failed best-effort removals and the report's
//     Kept and Unresolved: a growing number of unresolved ids points at
//     creates that keep failing.
//
// # Decisions
//
//   - Input errors (unknown states, terminal states passed to List, moves
//     out of terminal states or not in Transitions, bad keys, oversized
//     payloads, a Version below 1 in Transition, nil stores, an invalid
//     Machine, bad options) match storage.ErrInvalid, name the field and
//     state, and happen before any store call. A canceled context is
//     returned before any store call too.
//   - List with no state is an input error, not an empty result. Repeated
//     states are listed once.
//   - Create ignores b.Version, b.CreatedAt and b.UpdatedAt: the store sets
//     Version 1 and the clock sets both times (UTC, microseconds).
//     Transition writes b as given (Payload included) with State = to and
//     UpdatedAt from the clock.
//   - A Create directly into a terminal state is allowed and writes no row.
//   - Transition to the batch's current state is allowed when the machine
//     allows it (nil Transitions allow it): it rewrites the batch and bumps
//     the row's version; nothing is removed.
//   - Buckets are read concurrently, at most [WithListConcurrency] at once
//     (default [DefaultListConcurrency]); a read error fails List or
//     Reconcile before any write.
//   - Best-effort failures are logged with log/slog at Warn (default
//     slog.Default(); see [WithLogger]).
//   - Reconcile reports failed writes (removals, fences) in one joined
//     error after finishing the scan, and counts those rows as kept.
//   - Reconcile may bump the Version of a batch with a crashed transition
//     (see above); no other field changes.
package batchstate
