// Package applystate keeps a rollout's state — an apply over one operation
// per deployment — the projection of all its operation rows, without
// transactions.
//
// Each deployment's drive loop calls [Projector.Drive] with its fresh task
// states. The projector derives the operation's state ([Derive]), writes
// the operation row by compare-and-swap, reads every sibling row, folds the
// fresh state in, projects the apply ([Rollout]) and writes it by
// compare-and-swap, retrying the whole read → project → write round on a
// conflict. So one deployment can never clobber its siblings (mark the
// apply completed while a sibling is pending), the apply never terminalizes
// on incomplete information or while a sibling still holds its target, and
// exactly one caller sees [Result.Terminalized] — the owner of the terminal
// side effects ([WithObserver]).
//
// # Failure policies
//
// Each operation's OnFailure policy decides what its failure does to the
// rollout (F = a failed operation, P = a pending one, R = running, C =
// completed):
//
//	```mermaid
//	stateDiagram-v2
//	    [*] --> pending
//	    pending --> running: an operation starts (or settles)
//	    running --> completed: every operation completed
//	    state "a failed operation" as F {
//	        [*] --> halt
//	        [*] --> continue
//	        [*] --> pause
//	        pause --> released: ReleasePause
//	        released --> continue: a released pause is continue
//	    }
//	    running --> F: an operation fails
//	    F --> failed: halt, no started work in flight (pending siblings never start)
//	    F --> running_degraded: halt, started work still holds its target
//	    F --> running_degraded: continue, another operation unfinished
//	    F --> failed: continue, every operation settled or inert
//	    F --> paused: pause, a later operation unfinished
//	    F --> running_degraded: pause, only earlier operations unfinished
//	    F --> failed: pause, every operation settled or inert
//	    paused --> running_degraded: ReleasePause
//	    running_degraded --> failed: every operation settled or inert
//	    running --> stopped: Stop, nothing in flight
//	    completed --> [*]
//	    failed --> [*]
//	    stopped --> [*]
//	```
//
// Whatever the policy, the apply never terminalizes while an operation still
// holds its target and is not stopped: a terminal base state with active
// children is replaced by Derive over the active children.
//
// Reference cases (tested): F(continue)+P → running_degraded;
// F(continue)+C → failed; F(continue)+F(continue) → failed; F(halt)+P →
// failed; F(halt)+R → running_degraded; F(pause)+later P → paused;
// F(pause)+later C → failed; R then F(pause) → running_degraded; a released
// pause is continue; halt with a never-started stopped sibling → failed;
// halt with a started stopped sibling → running_degraded; pause with a
// never-started sibling → paused; continue with a never-started sibling →
// running_degraded, or failed once a stop was requested.
//
// # Operation rows
//
// A task names the operation it belongs to (Task.OperationID). Drive checks
// that the apply has that operation, and takes tasks without an
// OperationID as the apply's state only where there is no operation model
// at all: a Projector without an OperationStore, or an apply that has no
// operation rows. Anything else is a caller bug, so Drive returns an error matching
// storage.ErrInvalid that names the offending field (for example
// "tasks[0].OperationID") and writes nothing:
//
//   - tasks without an OperationID, or no tasks, on an apply that has
//     operation rows;
//   - tasks with an OperationID mixed with tasks without one;
//   - an OperationID the apply does not have.
//
// An error rather than [Result.Undetermined]: Undetermined means "not
// decidable yet, poll again", and polling again with the same tasks would
// never decide anything.
//
// Operation rows only move forward:
//
//   - A settled operation (completed, failed, cancelled, reverted — see
//     [State.Settled]) never changes again, its error message included.
//   - A stopped operation never returns to pending or running (or any other
//     unsettled state); it may only settle.
//   - No operation row is written once its apply is terminal.
//
// A report that would break these rules is not an error — a late or
// repeated poll is routine for a drive loop — and writes no row: Drive
// returns the apply as stored (a terminal apply as it is; otherwise
// projected over the stored rows, as [Projector.Reproject] would), and the
// refused move is logged. A poll that reports the state already stored
// writes no row, and no apply either unless the apply needs repair.
//
// # Repair and control
//
// [Projector.Reproject] projects over the stored rows only: run it after a
// restart or from a periodic sweep to repair a crash between an operation
// write and the apply write. [Projector.Stop] sets StopRequested, moves
// every pending operation to stopped and reprojects; [Projector.ReleasePause]
// sets PauseReleased and reprojects.
//
// # Decisions
//
//   - Task states go through [Parse]: case-insensitive, with the aliases
//     "complete" and "recovering_cutover"; an unknown task state is
//     storage.ErrInvalid (a typo must not read as pending). Stored rows go
//     through [Normalize], which maps unknown states to pending.
//   - Error messages are made valid UTF-8 and truncated to
//     storage.MaxMessageBytes on a rune boundary. The apply's message is
//     "deployment <Deployment> failed: <message>" for the first failed
//     operation in rollout order (the operation ID when Deployment is
//     empty); without an operation model it is the first failed task's
//     message.
//   - An operation has started when its StartedAt is set, or when its state
//     is neither pending nor stopped. A finalizer is orphaned when it is
//     pending-like and a non-finalizer of its (non-empty) group failed.
//   - A missing apply is storage.ErrNotFound. Input errors (nil ApplyStore,
//     bad ids, unknown task states, tasks with and without an OperationID
//     mixed, Reproject / Stop / ReleasePause without an OperationStore)
//     match storage.ErrInvalid and come before any store call, as does a
//     canceled context. Tasks that name no operation, or one the apply
//     does not have, match storage.ErrInvalid too, found by reading the
//     operations and before any write (see Operation rows).
//   - Policies: [ParsePolicy] is strict (empty is Halt, unknown is
//     storage.ErrInvalid) for callers validating input; stored rows
//     ([Children]) and [Child.OnFailure] treat an unknown policy as Halt,
//     the safe reading.
//   - Drive folds the row it wrote over the listed one unless the listing
//     already holds a newer version (a later write wins), so a lagging
//     listing cannot hide the caller's own fresh state.
//   - Stop and ReleasePause on a terminal apply return it unchanged; Stop
//     leaves operations that already left pending to their drive loops.
//     Reproject over an apply without operations is Undetermined.
//   - Derive and Rollout do not allocate; Rollout is linear in the number
//     of children.
//   - When the attempts run out under contention the call returns an error
//     matching storage.ErrConflict; the caller retries.
//   - An error after the apply write was sent (a lost response) cannot be
//     told from a failure: Terminalized is reported at most once, and
//     exactly once unless the terminalizing write's response was lost.
package applystate
