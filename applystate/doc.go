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
//	        pause --> released: ReleasePause (this failure only)
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
//	    running_degraded --> failed: Stop, nothing in flight
//	    paused --> failed: Stop, nothing in flight
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
// halt with a started stopped sibling → running_degraded, or failed once a
// stop was requested; pause with a never-started sibling → paused;
// continue with a never-started sibling → running_degraded, or failed once
// a stop was requested.
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
//   - The one exception: [Projector.ReleasePause] rewrites the policy
//     (OnFailure) of each failed pause operation it releases to continue;
//     the row's state, error message and timestamps stay as they are.
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
// write and the apply write.
//
// [Projector.Stop] sets StopRequested, moves every pending operation to
// stopped and reprojects. Operations that already started are left to
// their drive loops, which report stopped (or settle) in their own time:
//
//   - A stop is final. A stopped operation never returns to pending or
//     running, so a drive loop that keeps polling pending after the stop
//     changes nothing. Once StopRequested is set, a stopped operation,
//     started or not, no longer holds its target.
//   - The apply settles once nothing holds its target: stopped when no
//     operation failed, failed (with StopRequested recorded, and the
//     failure's error message) when one did — whatever the failed
//     operation's policy. A stop over a halt failure, a pause hold or
//     degraded work does not leave the apply running_degraded or paused.
//   - Stop is idempotent; retry it after an error. A Stop interrupted after
//     it recorded StopRequested is also finished by the next
//     [Projector.Reproject], which moves the operations still pending to
//     stopped before projecting.
//
// [Projector.ReleasePause] releases the failures that hold the rollout: it
// rewrites the policy of every failed operation whose policy is pause to
// continue (by compare-and-swap on each row) and reprojects. A release
// applies to the failures it released, and only to them: an operation that
// fails under pause afterwards — including one that failed while the
// release was under way, after it read the operations — holds the rollout
// again until the next ReleasePause. Releasing when no failed pause
// operation is left writes nothing. An apply whose PauseReleased flag was
// set by an earlier version (a release of every pause, later ones
// included) keeps that meaning until the next ReleasePause records the
// failures on their rows and clears the flag; [Flags.PauseReleased] keeps
// it for callers of [Rollout].
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
//   - Stop and ReleasePause on a terminal apply return it unchanged and
//     write nothing; Stop leaves operations that already left pending to
//     their drive loops.
//   - A stop over failed work ends failed rather than stopped: a failure
//     happened, and StopRequested on the apply records that the operator
//     stopped what was left.
//   - A release is recorded on the released rows rather than on the apply,
//     so no storage field is added: a released pause reads as continue to
//     every version of this package.
//     Reproject over an apply without operations is Undetermined.
//   - Derive and Rollout do not allocate; Rollout is linear in the number
//     of children.
//   - When the attempts run out under contention the call returns an error
//     matching storage.ErrConflict; the caller retries.
//   - Exactly one caller sees Terminalized, or else the caller whose write
//     could not be told apart gets an error matching [ErrAmbiguous] (see
//     Lost responses).
//
// # Lost responses
//
// An apply write that returns an error may still have landed: the
// response was lost, or the store resent a request whose first attempt had
// landed and answered the resend with a conflict. So after any apply write
// error except storage.ErrNotFound and storage.ErrInvalid (nothing was
// written), the call reads the apply back:
//
//   - At the version its write would have created, and holding exactly
//     what it wrote (state, message, timestamps, UpdatedAt included): the
//     write is this call's. The call succeeds as if the response had
//     arrived: Changed, Terminalized when the write was terminal, and the
//     observer fires.
//   - Another write at that version, or the apply already past it: a
//     compare-and-swap at one version lands at most once, so this write
//     lost. The call goes on as after a conflict, and a terminal apply it
//     finds is someone else's (Terminalized false, no error). A terminal
//     write that landed is still recognized at a later version, since a
//     terminal apply's state is never rewritten. A non-terminal write that landed and was
//     overwritten before the read-back cannot be recognized and is taken
//     as lost: the observer may miss that intermediate state, never a
//     terminal one.
//   - Still at the version the write expected: after a conflict, the next
//     round's compare-and-swap at that version tells. After any other
//     error the write may yet land, so the call cannot tell; nor can it
//     when the read-back fails. Then it returns an error matching both
//     [ErrAmbiguous] and the store's error. This call may own the terminal
//     side effects although nothing reports it: retry the call (a retry
//     that finds the apply terminal reports Terminalized false and cannot
//     tell who terminalized it), and make the side effects idempotent or
//     reconcile them from the stored apply.
//
// Writes are told apart by their UpdatedAt: each apply write of a
// Projector stamps a later UpdatedAt than its previous one (a microsecond
// later when the clock has not moved), so concurrent calls of one Projector
// never store identical rows, even with a clock that stands still. Two
// Projectors whose clocks read the same microsecond, projecting the same
// state from the same read, would store identical rows, and the one that
// lost with a conflict would take the row for its own. Share one Projector
// per process; in a test where several Projectors race on one apply, use
// clocks that move.
package applystate
