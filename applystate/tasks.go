package applystate

import (
	"context"
	"fmt"

	"github.com/statefold/statefold/storage"
)

// The tasks of a Drive: what they report, how they name their operation,
// and the checks that refuse caller bugs before any write.

// report is what a Drive's tasks say about their operation.
type report struct {
	state   State  // Derive over the tasks' states
	failMsg string // the first failed task's message, truncated
	failed  bool   // a task failed
}

// parseReport checks the tasks' operation ids and states and derives
// their report.
func parseReport(tasks []Task) (report, error) {
	states := make([]State, len(tasks))
	var rep report
	for i, t := range tasks {
		if t.OperationID != "" {
			if err := storage.ValidateKey(fmt.Sprintf("tasks[%d].OperationID", i), t.OperationID); err != nil {
				return report{}, err
			}
		}
		s, err := Parse(string(t.State))
		if err != nil {
			return report{}, storage.Invalid(fmt.Sprintf("tasks[%d].State", i), "unknown state %q", t.State)
		}
		states[i] = s
		if s == Failed && !rep.failed {
			rep.failMsg, rep.failed = truncate(t.ErrorMessage), true
		}
	}
	rep.state = Derive(states...)
	return rep, nil
}

// authoritative is the target of a Drive without an operation model: the
// tasks' state is the apply's.
func (rep report) authoritative(a storage.Apply) (decision, error) {
	msg := a.ErrorMessage
	if rep.state == Failed {
		msg = rep.failMsg
	}
	return decision{state: rep.state, msg: msg}, nil
}

// model is how Drive's tasks relate to operations.
type model int

const (
	noModel  model = iota // no task names an operation
	oneModel              // every task names the same operation
	twoOps                // tasks name different operations
	mixed                 // some tasks name an operation, others none
)

// classify returns the model of tasks, the operation of the first task that
// names one, and, when mixed, the index of the first task that names none,
// or, when tasks name different operations, the index of the first task
// that names another operation than the first.
func classify(tasks []Task) (model, string, int) {
	id, named, unnamed, firstUnnamed, other := "", 0, 0, -1, -1
	for i, t := range tasks {
		switch {
		case t.OperationID == "":
			if unnamed == 0 {
				firstUnnamed = i
			}
			unnamed++
		case named == 0:
			id = t.OperationID
			named++
		default:
			if other < 0 && t.OperationID != id {
				other = i
			}
			named++
		}
	}
	switch {
	case named == 0:
		return noModel, "", -1
	case unnamed > 0:
		return mixed, id, firstUnnamed
	case other >= 0:
		return twoOps, id, other
	}
	return oneModel, id, -1
}

// checkDrive refuses, before any store call, the Drives that are caller
// bugs whatever is stored: tasks of two operations (one Drive reports one
// deployment), a lease that does not fit the Drive, and — with an
// operation store — named tasks mixed with unnamed ones.
func checkDrive(applyID string, tasks []Task, m model, opID string, at int, l *Lease, hasOps bool) error {
	if m == twoOps {
		return storage.Invalid(fmt.Sprintf("tasks[%d].OperationID", at),
			"%q, but tasks[0] names operation %q: the tasks of one Drive belong to one operation", tasks[at].OperationID, opID)
	}
	if l != nil {
		if err := checkDriveLease(*l, applyID, m, opID, hasOps); err != nil {
			return err
		}
	}
	if hasOps && m == mixed {
		return storage.Invalid(fmt.Sprintf("tasks[%d].OperationID", at), "empty, but other tasks name operation %q", opID)
	}
	return nil
}

// driveUnmodelled is a Drive whose n tasks name no operation, with an
// operation store: the tasks' state is the apply's unless the apply has
// operation rows.
func (p *Projector) driveUnmodelled(ctx context.Context, applyID string, n int, rep report) (Result, error) {
	ops, err := p.ops.ListOperations(ctx, applyID)
	if err != nil {
		return Result{}, fmt.Errorf("applystate: list operations of %q: %w", applyID, err)
	}
	if err := unmodelled(applyID, n, len(ops)); err != nil {
		return Result{}, err
	}
	return p.project(ctx, applyID, nil, rep.authoritative)
}

// unmodelled refuses n tasks that name no operation of an apply with
// listed operation rows. Operation rows are never deleted: once listed,
// the apply has operations for good.
func unmodelled(applyID string, n, listed int) error {
	switch {
	case listed == 0:
		return nil
	case n == 0:
		return storage.Invalid("tasks", "no task names an operation, but apply %q has operations", applyID)
	}
	return storage.Invalid("tasks[0].OperationID", "empty, but apply %q has operations", applyID)
}

func unknownOperation(i int, applyID, opID string) error {
	return storage.Invalid(fmt.Sprintf("tasks[%d].OperationID", i), "apply %q has no operation %q", applyID, opID)
}
