// Package batchstate keeps a membership index of batches by state beside a pure
// CRUD / compare-and-swap batch store, so that "which batches of queue Q are in
// states S…" is a primary-key range read on any store — DynamoDB included —
// with no secondary index over a mutable column and no transactions.
//
// A batch lives in a queue and moves through the states of a [Machine]. The
// index holds rows (queue, state, batch id, version); terminal states are
// not indexed. The index is advisory: the batch row is authoritative, and
// every read filters by it. Two more indexes live in the same store:
// [WithIndex] files batches under keys you derive from them, for
// [Orchestrator.Lookup]; [WithFinishedIndex] files finished batches by
// day, for [Orchestrator.ListFinished].
//
// # What you can rely on
//
// These hold under any interleaving of any number of callers, with store
// calls that fail before or after they run (a lost response), and with
// clocks that disagree by any amount, except as Clocks below says:
//
//   - I — never miss. Whenever a batch is stored in a non-terminal state S,
//     the row (queue, S, id) exists.
//   - II — never misreport. [Orchestrator.List] returns only batches whose
//     stored state is one of those asked for, each once, as they were
//     stored at some instant of the call.
//   - III — never miss in a List. A batch stored in a requested state at
//     every instant of a List call is returned by that call, even if it
//     moves between requested states meanwhile. (A List that returns an
//     error promises nothing.)
//   - IV — final is final. A batch stored in a terminal state never changes
//     again, and a move is only ever written out of the state the batch is
//     really stored in, so a move the [Machine] does not allow from the
//     stored state is never written.
//   - V — converge. Once writers stop, one Reconcile past the grace period
//     leaves exactly one row per non-terminal batch: the row of its state.
//   - A Create either returns an error or its batch is listed.
//   - Lookup and ListFinished return only batches whose stored row, as
//     returned, has the key (is finished in the interval) at some instant of
//     the call, and every batch whose row has it at every instant.
//
// # What each call writes
//
// v is the version the caller read:
//
//	Create(S):        AddMember(S, version 1) → key rows → CreateBatch
//	Transition(F→T):  GetBatch if indexed → AddMember(T, version v+1), unless T
//	                  is terminal → key rows → UpdateBatch(expect v, F)
//	                  → RemoveMember(keys dropped, up to v+1) → if T is terminal: RemoveMember(F)
//	key rows:         a mark per key added or dropped, a row per key added
//	                  (version v+1), the day's row if finished (WithFinishedIndex)
//	Lookup(K):        ListMembers(K) → GetBatches(candidates)
//	List(S…):         GetBatch(lease) → ListMembers(S) per state → GetBatches(candidates, lease)
//	Reconcile(Q):     ListMembers per non-terminal state → GetBatches(candidates)
//	                  → removals, fences and tombstones → for rows of live batches only:
//	                  take the lease → RemoveMember → release the lease
//	                  → per marked key: ListMembers → GetBatches → removals → clear the mark
//
// A write that fails keeps the rows it added: the error does not prove
// that nothing landed.
//
// Reconcile removes a row of a write that has not finished only after
// fencing that write off, once the row is older than the grace period
// ([WithDanglingGrace]): it rewrites the batch unchanged, so a pending
// Transition fails with storage.ErrConflict, or it writes an [Abandoned]
// tombstone under the id, so a pending Create fails with
// storage.ErrAlreadyExists. A write slower than the grace fails; it is
// never lost.
//
// # Clocks
//
// I, II and IV assume nothing about clocks. The reconcile lease has a
// duration ([WithReconcileLease], default [DefaultReconcileLease]) so that
// a Reconcile that crashes while holding it does not block List forever;
// III therefore assumes that the clocks of List callers and of Reconcile
// agree within half the lease duration, and that a single RemoveMember
// call of a Reconcile does not stall for longer than that. V converges once
// the grace has passed by the clock of the writer that stamped each row, so
// a writer whose clock runs ahead delays convergence by as much.
//
// # Operations
//
//   - Call Reconcile per queue every few minutes, from one janitor per
//     queue (a second one finds the lease held and leaves live rows for the
//     next run). Stale rows between runs are filtered by every read.
//   - Choose the grace longer than the slowest Create or Transition can
//     take between its index write and its batch write, retries of a store
//     call included.
//   - Treat an error from Create or Transition as "unknown": re-read the
//     batch and decide again. A lost race matches storage.ErrConflict; a
//     Create fenced off matches storage.ErrAlreadyExists and the batch reads
//     as [Abandoned]: create it again under a new id.
//   - A List error matching storage.ErrConflict means a Reconcile removed
//     rows during every attempt ([WithListRetry]): call List again.
//   - Watch the Warn logs (failed best-effort removals, a lease taken over
//     from a crashed Reconcile) and the report's Kept, Fenced and
//     Unresolved; [Orchestrator.Explain] says why a batch's rows are where
//     they are and which are stale. [WithHooks] hears of every call and of
//     its conflicts, re-reads, removals and fences (module otel: metrics).
//
// # Behaviour worth knowing
//
//   - Input errors (unknown states, terminal states passed to List, moves
//     out of terminal states or not in Transitions, bad keys, oversized
//     payloads, a Version below 1 in Transition, the reserved id
//     [LeaseID], nil stores, an invalid Machine, bad options) match
//     storage.ErrInvalid, name the field, state or option, and happen
//     before any store call. A canceled context is returned before any
//     store call too.
//   - List with no state is an input error; repeated states are listed once.
//   - Create ignores b.Version, b.CreatedAt and b.UpdatedAt: the store sets
//     Version 1 and the clock sets both times (UTC, microseconds). A Create
//     directly into a terminal state is allowed and writes no row.
//   - Transition to the current state, when the machine allows it,
//     rewrites the batch (and its keys) and bumps the row's version.
//   - Buckets are read at most [WithListConcurrency] at once (default
//     [DefaultListConcurrency]); a read error fails the call before any write.
//   - Routine outcomes are logged at Debug, failures at Warn ([WithLogger]).
//   - Reconcile may bump the Version of a batch with a stalled write, and
//     may create an [Abandoned] batch for a stalled create; no other field
//     changes. [LeaseID] is a reserved batch id, never listed.
//   - States starting with "\x00statefold:" are reserved for the indexes.
package batchstate
