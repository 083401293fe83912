// Package batchstate keeps a membership index of batches by state beside a
// pure CRUD / compare-and-swap batch store, so that "which batches of queue
// Q are in states S…" is a primary-key range read on any store — DynamoDB
// included — with no secondary index over a mutable column and no
// transactions.
//
// A batch lives in a queue and moves through the states of a [Machine]. The
// index holds rows (queue, state, batch id, version); terminal states are
// not indexed. The index is advisory: the batch row is authoritative, and
// every read filters by it.
//
// # What the orchestrator promises
//
// These hold under any interleaving of any number of callers, with store
// calls that fail before or after they run (a lost response), and with
// clocks that disagree by any amount, except where the last section says
// otherwise:
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
//
// # The write protocols
//
// v is the version the caller read:
//
//	Create(S):         AddMember(S, version 1)        (failure or a newer row: return, nothing created)
//	                   → CreateBatch                  (failure: return it, keep the row)
//
//	Transition(F→T):   AddMember(T, version v+1)      (not when T is terminal; failure or a newer row: return, no CAS)
//	                   → UpdateBatch(expect v, F)     (failure: return the original batch, keep the row)
//	                   → if T is terminal: RemoveMember(F)   (best-effort)
//
// Why I holds: the row for a state is written before the batch can be in
// that state, and a row of a live batch is removed only by Reconcile, only
// when the write the row belonged to is over (see below). A crash or an
// error at any point leaves at worst an extra row, never a missing one; an
// error never proves a write did not land, so rows are kept on every
// failure path. AddMember never lowers a row's version and reports a
// newer row as storage.ErrConflict; a Transition that meets one stops
// before its compare-and-swap, so no batch enters a state whose row a
// Reconcile may be removing.
//
// Why IV holds: the compare-and-swap compares the stored version and the
// stored state with the caller's read, in one conditional write. A caller
// that edits b.State, or holds a stale b, loses with storage.ErrConflict
// and nothing changes; Transition then reads the batch once to say what is
// stored, and, if the batch is terminal, removes the row it added.
//
// Why III holds: a Transition does not remove the row of the state it
// leaves. A List reads each requested bucket, then resolves every
// candidate; a batch that moved from S1 to S2 between the reads of S2 and
// S1 is still found through its S1 row, and the resolved batch says where
// it is now. Only Reconcile removes rows of live batches, and it does so
// only while it holds the queue's lease: a reserved batch row ([LeaseID])
// that Reconcile takes and releases by compare-and-swap. List reads the
// lease before its first bucket and again, in the same GetBatches call as
// the candidates, after its last; if the lease was held or changed hands
// meanwhile, the List reads again ([WithListRetry]), and if every attempt
// overlapped a Reconcile it returns storage.ErrConflict instead of a
// result that might miss a batch. On a queue nobody reconciles at that
// moment, a List costs one GetBatch, one ListMembers per state and one
// GetBatches call, plus one best-effort RemoveMember per row of a terminal
// batch it meets.
//
// Rows of batches that are terminal (or [Abandoned]) are removed
// unconditionally, by List and Reconcile: terminal is final and ids are
// never reused, so no reader needs them.
//
// # Reconcile: fences, not timeouts
//
// A row ahead of its batch, in a state the batch is not in, belongs to a
// transition whose compare-and-swap has not landed — in flight, lost to an
// error, or crashed. A row whose batch does not exist belongs to a Create
// whose batch write has not landed. Removing either while its write can
// still land would leave a live batch without its row. So once such a row
// is older than the grace period, Reconcile fences its write off first:
//
//   - a transition: it rewrites the batch unchanged (UpdateBatch with the
//     version and state it read), which bumps Version; the pending
//     compare-and-swap, and any other expecting that version, now fails;
//   - a create: it writes an [Abandoned] tombstone under the id
//     (CreateBatch); the pending CreateBatch now fails with
//     storage.ErrAlreadyExists, and Create returns that error.
//
// Only then is the row removed. If the fence itself loses (the batch moved,
// or the create landed meanwhile), the row is kept and decided next time.
// The grace ([WithDanglingGrace]) only decides when Reconcile acts: a write
// slower than the grace, or stamped by a clock far behind, fails with an
// error — it is never lost.
//
// # Clocks
//
// Nothing above depends on clocks agreeing, with one exception: the
// reconcile lease has a duration ([WithReconcileLease], default 30s), so
// that a Reconcile that crashes while holding it does not block List
// forever. A Reconcile stops removing once it has held the lease for half
// its duration, by its own clock; List callers and other Reconciles
// presume a lease older than its duration, by their clocks, abandoned.
// III therefore assumes that the clocks of List callers and of Reconcile
// agree within half the lease duration, and that a single RemoveMember
// call of a Reconcile does not stall for longer than that. I, II and IV
// assume nothing about clocks; V converges once the grace has passed by
// the clock of the writer that stamped each row (AddedAt), so a writer
// whose clock runs ahead delays convergence by as much, and never makes a
// row go early. Run Reconcile from one janitor per queue;
// a second concurrent Reconcile finds the lease held and leaves the rows
// of live batches for the next run.
//
// # Operations
//
//   - Call Reconcile per queue periodically — every few minutes is plenty.
//     Between runs, each batch keeps at most one row per state it has
//     visited, which List filters; Reconcile bounds that growth.
//   - Choose the grace longer than the slowest Create or Transition can
//     take between its index write and its batch write, retries of a store
//     call included, so that Reconcile does not fail a write that is merely
//     slow.
//   - Treat an error from Create or Transition as "unknown": re-read the
//     batch and decide again. A lost race matches storage.ErrConflict; a
//     Create fenced off matches storage.ErrAlreadyExists and the batch reads
//     as [Abandoned]: create it again under a new id.
//   - A List error matching storage.ErrConflict means a Reconcile was
//     removing rows during every attempt: call List again.
//   - Watch the Warn logs (failed best-effort removals, a lease taken over
//     from a crashed Reconcile) and the report's Kept, Fenced and
//     Unresolved: a growing number of unresolved ids points at creates that
//     keep failing.
//
// # Behaviour worth knowing
//
//   - Input errors (unknown states, terminal states passed to List, moves
//     out of terminal states or not in Transitions, bad keys, oversized
//     payloads, a Version below 1 in Transition, the reserved id
//     [LeaseID], nil stores, an invalid Machine, bad options) match
//     storage.ErrInvalid, name the field and state, and happen before any
//     store call. A canceled context is returned before any store call too.
//   - List with no state is an input error, not an empty result. Repeated
//     states are listed once.
//   - Create ignores b.Version, b.CreatedAt and b.UpdatedAt: the store sets
//     Version 1 and the clock sets both times (UTC, microseconds).
//     Transition writes b as given (Payload included) with State = to and
//     UpdatedAt from the clock.
//   - A Create directly into a terminal state is allowed and writes no row.
//   - Transition to the batch's current state is allowed when the machine
//     allows it (nil Transitions allow it): it rewrites the batch and bumps
//     the row's version.
//   - Buckets are read concurrently, at most [WithListConcurrency] at once
//     (default [DefaultListConcurrency]); a read error fails List or
//     Reconcile before any write.
//   - Routine outcomes (a lost compare-and-swap, a List that reads again, a
//     create abandoned) are logged at Debug, failed best-effort writes and
//     lease takeovers at Warn (default slog.Default(); see [WithLogger]).
//   - Reconcile reports failed writes (removals, fences, tombstones, the
//     lease) in one joined error after finishing the scan, and counts
//     those rows as kept.
//   - Reconcile may bump the Version of a batch with a stalled transition,
//     and may create an [Abandoned] batch for a stalled create; no other
//     field of any batch changes.
//   - Each queue has one reserved batch row, [LeaseID], once a Reconcile
//     has removed a live batch's row in it. It is not a batch of yours:
//     List never returns it and Create rejects its id.
package batchstate
