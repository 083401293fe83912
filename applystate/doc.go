// Package applystate keeps a rollout's state — an apply over one operation per
// deployment — the projection of all its operation rows, without transactions.
//
// Create a rollout with [Projector.CreatePlan]: it validates the whole plan
// before it writes anything, creates the operations and then the apply, is
// idempotent, and refuses another plan for the same apply id
// (storage.ErrAlreadyExists). Then each deployment's drive loop calls
// [Projector.Drive] with its fresh task states and does what the
// directive it gets back says ([Result.Next]):
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
// Drive writes the operation's state ([Derive] over the tasks) to its row,
// projects the apply over every row ([Rollout]) and writes it, each by
// compare-and-swap. So one deployment never clobbers its siblings, the
// apply never terminalizes while an operation still holds its target, no
// deployment is told to start once its apply is terminal, stopping or
// halted, and exactly one caller sees [Result.Terminalized] — the owner of
// the terminal side effects ([WithObserver]).
//
// # Rollout rules
//
// Each operation's OnFailure policy decides what its failure does:
//
//	halt:     failed once no started work is in flight (pending siblings never start)
//	continue: running_degraded while another operation is unfinished, then failed
//	pause:    paused while a later operation is unfinished, until ReleasePause;
//	          running_degraded when only earlier ones are; failed once all settled
//	Stop:     the apply settles stopped, or failed when an operation failed,
//	          once nothing holds its target
//
// [Rollout] documents the rules and [Explain] which of them decided a state.
//
// # What you can rely on
//
//   - Rows only move forward: a settled operation never changes, a stopped
//     one only settles, a started one never returns to pending, and no row
//     changes once its apply is terminal. A report that would break this is
//     routine for a late poll: it writes no row and is no error.
//   - A deployment starts only on [Proceed], and a start told Proceed is
//     never taken back: a concurrent stop, halt, pause or terminal decision
//     either waits for it or makes Drive answer [Wait] or [DoNotStart]
//     instead. Reporting pending again after Proceed is answered Proceed
//     (DoNotStart once a stop was requested), so a loop told DoNotStart
//     after a stop reports stopped, whether or not it started.
//   - [Projector.Stop] is final and idempotent: operations that did not start
//     are stopped, started ones are told DoNotStart and report stopped or
//     settle in their own time. [Projector.ReleasePause] releases the failures
//     that hold the rollout now. [Projector.Reproject] repairs a crash between
//     an operation write and the apply write, and finishes an interrupted
//     Stop: run it after a restart, or sweep (below).
//   - A poll that changes nothing costs two point reads, however many rows.
//   - Bad input matches storage.ErrInvalid, names the field (for example
//     "tasks[0].OperationID") and writes nothing: tasks without an
//     OperationID on an apply with operations, tasks of two operations, an
//     operation the apply does not have, an unknown task state ([Parse]).
//     A missing apply is storage.ErrNotFound; contention beyond the
//     attempts ([WithMaxAttempts]) is storage.ErrConflict: retry.
//   - An apply write (Stop's and ReleasePause's flags included) whose
//     outcome the store's error hides is read back:
//     a landed write is this call's (Changed, Terminalized, observed); one
//     the read-back cannot tell is an error matching [ErrAmbiguous] and the
//     store's error — the call may own the terminal side effects, so retry
//     it and make those side effects idempotent.
//   - Every apply write of a Projector stamps a later UpdatedAt than its
//     previous one, which tells its writes apart. Share one Projector per
//     process; Projectors racing on one apply need clocks that move.
//
// # Finding, sweeping and observing applies
//
// Under [WithDiscovery], [Projector.ListOpen] returns every open apply, never
// a terminal one; [Projector.RunSweeper] ([Projector.Sweep] once) reprojects
// idle applies, reports stuck ones and hands over or reports operations whose
// owner lapsed; [Projector.PruneFinished] prunes terminal applies past a
// retention ([Projector.Prune] by id those finished before v0.2.0).
// [WithHooks] hears of every call, retry and takeover (module otel).
//
// # Several drive loops per deployment
//
// One drive loop per deployment needs nothing more. When several replicas
// may drive the same deployment, each loop owns the operation first:
// [Projector.Acquire] returns a [Lease] (owner, fencing token, time to
// live) and Drive under [WithLease] writes only while the row still holds
// that owner and token.
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
//		case applystate.Proceed: // start with lease.Token; carry on
//		case applystate.Resume:  // taken over: observe the work, do not start it again
//		// Wait and DoNotStart as above
//		}
//	}
//
// At most one live owner holds an operation, and every acquisition gets a
// larger token: pass Lease.Token to the tool that runs the change so that
// it refuses older ones. A loop that lost the operation gets [ErrNotOwner]
// and nothing it reports is stored. Clocks decide only when a takeover may
// happen, never whether a write lands: choose a time to live well above
// the poll interval plus the clock skew between replicas. A takeover of
// work that may be running is told [Resume], never a second Proceed. Once
// an operation was acquired every Drive of it needs a lease; Stop,
// ReleasePause and Reproject need none and keep the owner of every row.
package applystate
