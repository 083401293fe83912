// Package applystate keeps a rollout's state — an apply over one operation
// per deployment — the projection of all its operation rows, without
// transactions.
//
// Create a rollout with [Projector.CreatePlan]. Then each deployment's
// drive loop calls [Projector.Drive] with its fresh task states and acts on
// the directive it gets back ([Result.Next]): start only on [Proceed], hold
// on [Wait], never start on [DoNotStart]. The projector derives the
// operation's state ([Derive]), writes the operation row by
// compare-and-swap, reads every sibling row, folds the fresh state in,
// projects the apply ([Rollout]) and writes it by compare-and-swap,
// retrying the whole read → project → write round on a conflict. So one
// deployment can never clobber its siblings (mark the apply completed while
// a sibling is pending), the apply never terminalizes on incomplete
// information or while a sibling still holds its target, no deployment is
// told to start once its apply is terminal, stopping or halted, and exactly
// one caller sees [Result.Terminalized] — the owner of the terminal side
// effects ([WithObserver]).
//
// # A drive loop
//
//	for {
//		res, err := p.Drive(ctx, applyID, []applystate.Task{{OperationID: opID, State: observed}})
//		if err != nil { /* log; poll again later */ }
//		switch res.Next {
//		case applystate.Proceed:    // start the deployment if not started; carry on
//		case applystate.Wait:       // paused: do not start; poll again
//		case applystate.DoNotStart: // never start; after a stop request, stop what you started and report stopped
//		}
//		// sleep until the next poll
//	}
//
// # Several drive loops per deployment
//
// One drive loop per deployment needs nothing more. When several replicas
// of a deploy service may drive the same deployment, each loop owns the
// operation before it drives it: [Projector.Acquire] returns a [Lease]
// (an owner identity, a fencing token, a time to live), and Drive under
// [WithLease] writes for the operation only while the row still holds that
// owner and token.
//
//	lease, err := p.Acquire(ctx, applyID, opID, "deployer-7", time.Minute)
//	if errors.Is(err, applystate.ErrOwned) { /* another loop owns it: try again later */ }
//	for {
//		if time.Until(lease.Until) < 30*time.Second { // renew well before the lease lapses
//			if lease, err = p.Renew(ctx, lease, time.Minute); errors.Is(err, applystate.ErrNotOwner) {
//				return // another loop took the operation over: stop acting on it
//			}
//		}
//		res, err := p.Drive(ctx, applyID, tasks, applystate.WithLease(lease))
//		if errors.Is(err, applystate.ErrNotOwner) { return } // likewise
//		switch res.Next {
//		case applystate.Proceed: // start with lease.Token (see below); carry on
//		case applystate.Resume:  // taken over: the work may be running; observe it, do not start it again
//		// Wait and DoNotStart as above
//		}
//	}
//
// What you can rely on:
//
//   - At most one live owner per operation: Acquire while another owner's
//     lease has not lapsed writes nothing and returns an error matching
//     [ErrOwned]. Once it lapsed (or was released), another loop takes
//     over.
//   - Every acquisition gets a token larger than every earlier one for
//     the operation, the same owner's included. Pass Lease.Token to the
//     tool that runs the change, so that it can fence its own side
//     effects: a tool that refuses a token below the largest it has seen
//     never acts for a loop that lost the operation.
//   - A loop that lost the operation gets an error matching [ErrNotOwner]
//     from its Drive, Renew and Release, and nothing it reports is stored
//     — even when its write was already on its way when the takeover
//     landed: ownership and state live in the same row, and every row
//     write is a compare-and-swap of a row read that held the token. (The
//     one apply write it may still land is the version bump that precedes
//     a row write, which changes no field but UpdatedAt.)
//   - Clocks decide only when a takeover may happen, never whether a
//     write lands: a loop whose lease lapsed keeps writing until another
//     loop acquires the operation. Choose a time to live well above the
//     poll interval plus the clock skew between replicas, and renew well
//     before it lapses; a replica with a fast clock takes over early,
//     which costs a takeover but never lets two owners write.
//   - A takeover of work that may be running is told [Resume], never a
//     second Proceed: when the operation had started, or its start had
//     been granted to an earlier owner (Lease.Resume), a pending report
//     is answered Resume. Observe the work through the tool, with the new
//     token; report what it shows (a started state is answered Proceed:
//     carry on). If the tool has no trace of the start (the earlier owner
//     died before starting it), starting it under the new token is safe
//     with a tool that fences tokens.
//   - Once an operation was acquired, every Drive of it needs a lease: a
//     Drive without one is [ErrNotOwner] and writes nothing. An operation
//     never acquired is driven without one, as before.
//   - Stop, ReleasePause and Reproject need no lease and keep the owner
//     of every row they rewrite.
//   - Renewing is one compare-and-swap of the row (after reading it),
//     acquiring the same; a poll that changes nothing is still two point
//     reads under a lease.
//
// # Failure policies
//
// Each operation's OnFailure policy decides what its failure does to the
// rollout (F = a failed operation, P = a pending one, R = running, C =
// completed). The apply moves:
//
//	pending ──an operation starts (or settles)──▶ running ──all completed──▶ completed
//	running ──an operation fails (F)──▶ by F's policy:
//	  halt:     failed when no started work is in flight (pending siblings never start),
//	            else running_degraded until that work settles, then failed
//	  continue: running_degraded while another operation is unfinished, then failed
//	  pause:    paused while a later operation is unfinished (ReleasePause releases
//	            this failure: it becomes continue); running_degraded when only
//	            earlier ones are unfinished; failed when everything settled
//	Stop: running → stopped, running_degraded or paused → failed, once nothing
//	      holds its target
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
//   - tasks that name two different operations (one Drive reports one
//     deployment);
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
//   - A started operation never returns to pending.
//   - No operation's state changes once its apply is terminal, whoever
//     writes it (a slow Drive, Stop): a row that does not hold the apply
//     open (pending, stopped) moves only after its writer bumped the apply,
//     and a terminal decision seals such rows (rewrites them unchanged)
//     before its write, so a terminal apply stays the projection of its
//     rows.
//   - The one exception: [Projector.ReleasePause] records the release of
//     each failed pause operation on its row (ReleasedAt); the row's
//     policy, state, error message and timestamps stay as they are.
//     (Projected, the acknowledgement below, is bookkeeping and may be set
//     on any row.)
//
// A report that would break these rules is not an error — a late or
// repeated poll is routine for a drive loop — and writes no row: Drive
// returns the apply as stored (a terminal apply as it is; otherwise
// projected over the stored rows, as [Projector.Reproject] would), and the
// refused move is logged. A poll that reports the state already stored
// writes no row, and no apply either unless the apply needs repair.
//
// # Starts
//
// A deployment starts only when Drive says [Proceed], and a start cannot be
// missed by a concurrent terminal decision. When a drive loop reports
// pending (not started yet) on an open apply — not terminal, no stop
// requested, not paused, not halted by a failure under halt — Drive claims
// the start: it writes the operation row (state still pending, StartedAt
// set; every projection counts a claimed start as running), then reads the
// apply, lists the operations and writes the apply by compare-and-swap.
// Proceed comes back only when that apply write (or a later version of the
// apply, written after the claim) found the apply open. A terminal decision
// reads the apply before it lists the operations and writes at the version
// it read; since each side writes before it reads the other, at least one
// sees the other: either the decision lists the claim and holds, or the
// claim reads the stop, the halt or the terminal apply — or its own listing
// projects a pause or a halt whose apply write has not landed yet — and is
// given back (pending again, or stopped when a stop was requested) with
// [DoNotStart] or [Wait].
//
// Proceed also needs the claim acknowledged (storage.Operation.Projected):
// the acknowledgement grants the start, and only a Drive that checked the
// claim makes it. A granted start is never taken back: the deployment may
// be running although it still shows pending, so a later pending report on
// it writes nothing and is answered Proceed again (DoNotStart once a stop
// was requested), and the rollout counts it as running — a halt, a pause or
// a stop waits for it — until its deployment reports another state. So a
// drive loop told DoNotStart after a stop reports stopped, whether or not it
// had started. When the acknowledgement's outcome is unknown, Drive returns
// an error rather than Proceed; the next poll checks the claim again.
//
// A drive loop that reports a started state without having asked (a start
// it could not avoid, or an older loop) is recorded as it is: a running
// row holds the apply, which is the safe direction.
//
// A claim whose drive loop crashed before it finished holds the apply as
// running until that deployment polls again.
//
// # Cost of a poll
//
// Every operation write is followed by an apply write whose listing holds
// it; then the row is acknowledged (storage.Operation.Projected set by
// compare-and-swap). A poll whose report changes nothing on an
// acknowledged row reads the row and the apply — two point reads, whatever
// the number of operations — and writes nothing. A row not acknowledged (a
// crash between its write and the apply write, or a lost acknowledgement)
// is projected again by its deployment's next poll, so that poll repairs
// the apply. The apply write after an operation write is forced (it bumps
// the version even when the projection is unchanged) when the apply is
// still at the version first read after the operation write, so that no
// write computed from an older listing can land over it. A pending
// deployment of a rollout that is running_degraded lists the operations on
// each poll to tell whether a failure halted the rollout. A report that moves
// a pending or stopped row (a claim included) first rewrites the apply
// unchanged (a version bump), and the write that makes the apply terminal
// first rewrites each pending or stopped row unchanged: one extra write
// each, which keeps any row from moving once the apply is terminal.
//
// # Creating a rollout
//
// [Projector.CreatePlan] validates the whole plan first (ids, policies,
// initial states, labels, payload sizes) and writes nothing when any of it
// is wrong. It then creates every operation and the apply last: until the
// apply exists nothing can project it, so a crash part-way leaves no apply
// that could settle over part of its plan, and calling CreatePlan again
// with the same plan finishes it. CreatePlan is idempotent. An apply id
// belongs to the first plan whose creation began (CreatePlan takes it with
// a plan lock, [PlanLockID]): another plan for that id — a retry with
// another operation list, a concurrent CreatePlan — is an error matching
// storage.ErrAlreadyExists and writes nothing. Creating the
// apply yourself before its operations is unsafe: a Drive in between
// would project over the operations created so far.
//
// # Repair and control
//
// [Projector.Reproject] projects over the stored rows only: run it after a
// restart or from a periodic sweep to repair a crash between an operation
// write and the apply write.
//
// [Projector.Stop] sets StopRequested, moves every pending operation whose
// start nobody claimed to stopped and reprojects. Operations that already
// started, or whose start was claimed, are left to their drive loops, which
// Drive tells [DoNotStart] and which report stopped (or settle) in their
// own time:
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
// records the release on every failed operation whose policy is pause
// (ReleasedAt, by compare-and-swap on each row; OnFailure keeps the
// declared pause) and reprojects; the rollout counts a released failure as
// continue ([Children]), as it does a row an earlier version released by
// rewriting its policy to continue. A release
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
// # Behaviour you can rely on
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
//     is neither pending nor stopped; a pending operation with StartedAt set
//     is a claimed start and counts as running. A finalizer is orphaned
//     when it is pending-like and a non-finalizer of its (non-empty) group
//     failed.
//   - A missing apply is storage.ErrNotFound, also for a Drive of an
//     operation whose plan is not created yet. Input errors (nil ApplyStore,
//     bad ids, unknown task states, tasks with and without an OperationID
//     mixed, tasks naming two different operations, Reproject / Stop / ReleasePause without an OperationStore)
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
// The flag writes of Stop (StopRequested) and ReleasePause are read back
// the same way: a lost response on them is recognized as the call's own
// write, and an undecidable one is an error matching [ErrAmbiguous].
//
// Writes are told apart by their UpdatedAt: each apply write of a
// Projector, flag writes included, stamps a later UpdatedAt than its previous one (a microsecond
// later when the clock has not moved), so concurrent calls of one Projector
// never store identical rows, even with a clock that stands still. Two
// Projectors whose clocks read the same microsecond, projecting the same
// state from the same read, would store identical rows, and the one that
// lost with a conflict would take the row for its own. Share one Projector
// per process; in a test where several Projectors race on one apply, use
// clocks that move.
package applystate
