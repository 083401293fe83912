package applystate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statefold/statefold/storage"
)

// Plan is a rollout to create: the apply and the operations it owns.
type Plan struct {
	// Apply is the apply. ID is required; Payload is kept; State must be
	// empty or pending, and the other fields are set by CreatePlan.
	Apply storage.Apply
	// Operations are the apply's operations, at least one. ID is required
	// and unique within the plan; ApplyID is empty or Apply.ID; State is
	// empty or pending; OnFailure is empty (halt), "halt", "continue" or
	// "pause" (any case); a Finalizer needs a Group. Seq, Deployment, Group,
	// Finalizer and Payload are kept; the other fields are set by
	// CreatePlan.
	Operations []storage.Operation
}

// validatePlan checks the whole plan and returns it as it is written:
// every row pending, policies in their canonical spelling, timestamps now.
func (p *Projector) validatePlan(plan Plan) (Plan, error) {
	return planned(plan, p.now())
}

// planned is validatePlan at now.
func planned(plan Plan, now time.Time) (Plan, error) {
	a := plan.Apply
	if err := storage.ValidateKey("plan.Apply.ID", a.ID); err != nil {
		return Plan{}, err
	}
	if s, err := Parse(a.State); a.State != "" && (err != nil || s != Pending) {
		return Plan{}, storage.Invalid("plan.Apply.State", "%q: a plan starts pending", a.State)
	}
	if len(plan.Operations) == 0 {
		return Plan{}, storage.Invalid("plan.Operations", "a plan has at least one operation (an apply without operations is created with its ApplyStore)")
	}
	out := Plan{Apply: storage.Apply{ID: a.ID, State: string(Pending), Payload: a.Payload, CreatedAt: now, UpdatedAt: now}}
	if err := storage.ValidateApply(out.Apply); err != nil {
		return Plan{}, err
	}
	seen := make(map[string]int, len(plan.Operations))
	for i, op := range plan.Operations {
		if j, dup := seen[op.ID]; dup {
			return Plan{}, storage.Invalid(fmt.Sprintf("plan.Operations[%d].ID", i), "%q is also plan.Operations[%d].ID", op.ID, j)
		}
		seen[op.ID] = i
		w, err := plannedOperation(i, op, a.ID, now)
		if err != nil {
			return Plan{}, err
		}
		out.Operations = append(out.Operations, w)
	}
	return out, nil
}

// plannedOperation checks plan.Operations[i], op, of the plan of apply
// applyID and returns it as it is written at now.
func plannedOperation(i int, op storage.Operation, applyID string, now time.Time) (storage.Operation, error) {
	field := func(name string) string { return fmt.Sprintf("plan.Operations[%d].%s", i, name) }
	if err := storage.ValidateKey(field("ID"), op.ID); err != nil {
		return storage.Operation{}, err
	}
	if op.ApplyID != "" && op.ApplyID != applyID {
		return storage.Operation{}, storage.Invalid(field("ApplyID"), "%q is not the plan's apply %q", op.ApplyID, applyID)
	}
	if s, err := Parse(op.State); op.State != "" && (err != nil || s != Pending) {
		return storage.Operation{}, storage.Invalid(field("State"), "%q: a plan starts pending", op.State)
	}
	policy, err := ParsePolicy(op.OnFailure)
	if err != nil {
		return storage.Operation{}, storage.Invalid(field("OnFailure"), "unknown failure policy %q (halt, continue or pause)", op.OnFailure)
	}
	if op.Finalizer && op.Group == "" {
		return storage.Operation{}, storage.Invalid(field("Group"), "empty, but the operation is a finalizer")
	}
	w := storage.Operation{ApplyID: applyID, ID: op.ID, Seq: op.Seq, Deployment: op.Deployment, Group: op.Group,
		Finalizer: op.Finalizer, State: string(Pending), OnFailure: string(policy), Payload: op.Payload,
		CreatedAt: now, UpdatedAt: now}
	if err := storage.ValidateOperation(w); err != nil {
		return storage.Operation{}, fmt.Errorf("%s: %w", field(""), err)
	}
	return w, nil
}

// CreatePlan creates a rollout: the apply and its operations, validated
// first (an invalid plan is an error matching storage.ErrInvalid naming the
// field, and nothing is written).
//
// Without transactions the rows are written one by one, in an order that
// keeps a partial plan harmless: every operation first, the apply last.
// Until the apply exists no call can project it (Drive, Reproject and Stop
// find no apply), so a crash after some of the operations never lets the
// apply settle over part of its plan; calling CreatePlan again with the
// same plan finishes the job. CreatePlan is idempotent: rows that already
// hold what the plan says are kept (a released pause counts as the plan's
// pause), and a call for a plan that is already complete returns it as
// stored.
//
// An apply id belongs to the first plan whose creation began for it. Before
// it writes an operation, CreatePlan takes the id for its plan: it creates
// a plan lock, an apply row of its own under [PlanLockID] holding a digest
// of the plan (create-once, so of two concurrent CreatePlans of different
// plans exactly one takes it). The lock is left in place. A CreatePlan of
// another plan for that id — a retry after a crash with another operation
// list, or a concurrent one — is an error matching storage.ErrAlreadyExists
// and writes nothing; so is a plan that leaves out an operation already
// stored for the apply (however it got there), or one whose operation
// differs from a stored row of the same id: the error names it. Rows a
// half-done CreatePlan left behind belong to its plan: call CreatePlan again
// with that plan to finish it, or create the new plan under another apply
// id (rows are never deleted).
//
// With [WithDiscovery], CreatePlan files the apply in the open-applies
// index just before it creates the apply and again once it exists (a
// retry of a complete plan files it again while it is open).
//
// Do not create the apply yourself before its operations: a Drive in
// between would project over the operations created so far.
//
// It returns the apply and the operations as stored.
func (p *Projector) CreatePlan(ctx context.Context, plan Plan) (a storage.Apply, ops []storage.Operation, err error) {
	ctx, call := p.start(ctx, "CreatePlan", plan.Apply.ID, "")
	defer func() { endApply(call, a, err) }()
	if err := ctx.Err(); err != nil {
		return storage.Apply{}, nil, err
	}
	if p.ops == nil {
		return storage.Apply{}, nil, storage.Invalid("ops", "CreatePlan needs an OperationStore")
	}
	w, err := p.validatePlan(plan)
	if err != nil {
		return storage.Apply{}, nil, err
	}
	id := w.Apply.ID
	if a, err := p.applies.GetApply(ctx, id); err == nil {
		return p.existingPlan(ctx, w, a)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return storage.Apply{}, nil, fmt.Errorf("applystate: create plan %q: %w", id, err)
	}
	// Rows already stored must all be the plan's, before anything is
	// written.
	stored, err := p.ops.ListOperations(ctx, id)
	if err != nil {
		return storage.Apply{}, nil, fmt.Errorf("applystate: create plan %q: %w", id, err)
	}
	if err := storedWithin(w, stored); err != nil {
		return storage.Apply{}, nil, fmt.Errorf("applystate: create plan %q: %w", id, err)
	}
	if err := p.lockPlan(ctx, w); err != nil {
		return storage.Apply{}, nil, err
	}
	ops, err = p.createOperations(ctx, w)
	if err != nil {
		return storage.Apply{}, nil, err
	}
	if err := p.list(ctx, id, plannedVersion); err != nil {
		return storage.Apply{}, nil, err
	}
	a, err = p.applies.CreateApply(ctx, w.Apply)
	if errors.Is(err, storage.ErrAlreadyExists) {
		if a, err = p.applies.GetApply(ctx, id); err == nil {
			return p.existingPlan(ctx, w, a)
		}
	}
	if err != nil {
		return storage.Apply{}, nil, fmt.Errorf("applystate: create plan %q: apply: %w", id, err)
	}
	if err := p.list(ctx, id, createdVersion); err != nil {
		return storage.Apply{}, nil, err
	}
	p.cfg.logger.DebugContext(ctx, "applystate: plan created", "apply", id, "operations", len(ops))
	return a, ops, nil
}

// createOperations creates the operations of w, each found holding what
// the plan says when it exists (created by an earlier attempt, whose
// response may have been lost), and returns them as stored.
func (p *Projector) createOperations(ctx context.Context, w Plan) ([]storage.Operation, error) {
	id := w.Apply.ID
	ops := make([]storage.Operation, 0, len(w.Operations))
	for _, op := range w.Operations {
		got, err := p.ops.CreateOperation(ctx, op)
		if errors.Is(err, storage.ErrAlreadyExists) {
			if got, err = p.ops.GetOperation(ctx, id, op.ID); err == nil {
				err = samePlanned(got, op)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("applystate: create plan %q: operation %q: %w", id, op.ID, err)
		}
		ops = append(ops, got)
	}
	return ops, nil
}

// PlanLockID returns the id of the apply row that [Projector.CreatePlan]
// creates to take applyID for its plan: "statefold.plan:" followed by the
// hexadecimal SHA-256 of applyID. It holds a digest of the plan in its
// Payload and is never projected; do not use such ids for applies of your
// own.
func PlanLockID(applyID string) string {
	sum := sha256.Sum256([]byte(applyID))
	return "statefold.plan:" + hex.EncodeToString(sum[:])
}

// planDigest is a digest of what a plan declares (the apply's payload and,
// in id order, each operation's fields a plan sets).
func planDigest(w Plan) []byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(w.Apply.ID))
	field(w.Apply.Payload)
	ops := slices.Clone(w.Operations)
	slices.SortFunc(ops, func(a, b storage.Operation) int { return strings.Compare(a.ID, b.ID) })
	for _, op := range ops {
		fin := "0"
		if op.Finalizer {
			fin = "1"
		}
		field([]byte(op.ID))
		field([]byte(strconv.FormatInt(op.Seq, 10)))
		field([]byte(op.Deployment))
		field([]byte(op.Group))
		field([]byte(fin))
		field([]byte(op.OnFailure))
		field(op.Payload)
	}
	return h.Sum(nil)
}

// lockPlan takes the plan's apply id for it: it creates the plan lock, or
// finds it holding this plan's digest. A lock of another plan is an error
// matching storage.ErrAlreadyExists.
func (p *Projector) lockPlan(ctx context.Context, w Plan) error {
	lock := planLock(w)
	_, err := p.applies.CreateApply(ctx, lock)
	if errors.Is(err, storage.ErrAlreadyExists) {
		var got storage.Apply
		if got, err = p.applies.GetApply(ctx, lock.ID); err == nil {
			err = lockedFor(got, lock)
		}
	}
	if err != nil {
		return fmt.Errorf("applystate: create plan %q: plan lock: %w", w.Apply.ID, err)
	}
	return nil
}

// planLock is the plan lock of w: an apply row under [PlanLockID] holding
// the plan's digest.
func planLock(w Plan) storage.Apply {
	id := w.Apply.ID
	return storage.Apply{ID: PlanLockID(id), State: string(Pending), Payload: planDigest(w),
		ErrorMessage: truncate("plan lock of apply " + id), CreatedAt: w.Apply.CreatedAt, UpdatedAt: w.Apply.CreatedAt}
}

// lockedFor reports, as an error matching storage.ErrAlreadyExists,
// whether got, the stored plan lock, was taken by another plan than lock's.
func lockedFor(got, lock storage.Apply) error {
	if !bytes.Equal(got.Payload, lock.Payload) {
		return fmt.Errorf("the apply is being created with another plan: %w", storage.ErrAlreadyExists)
	}
	return nil
}

// storedWithin reports (as an error matching storage.ErrAlreadyExists
// naming the operation) a stored operation that is not in the plan w or
// differs from it.
func storedWithin(w Plan, stored []storage.Operation) error {
	for _, got := range stored {
		i := slices.IndexFunc(w.Operations, func(op storage.Operation) bool { return op.ID == got.ID })
		if i < 0 {
			return fmt.Errorf("operation %q is stored for the apply but not in the plan: %w", got.ID, storage.ErrAlreadyExists)
		}
		if err := samePlanned(got, w.Operations[i]); err != nil {
			return fmt.Errorf("operation %q: %w", got.ID, err)
		}
	}
	return nil
}

// existingPlan returns the stored plan when the stored apply a and its
// operations hold what w says and no plan lock of another plan holds the
// id: a prune deletes a terminal apply's operations, so what is left of
// them may look like another plan, complete.
func (p *Projector) existingPlan(ctx context.Context, w Plan, a storage.Apply) (storage.Apply, []storage.Operation, error) {
	id := w.Apply.ID
	if !bytes.Equal(a.Payload, w.Apply.Payload) {
		return storage.Apply{}, nil, fmt.Errorf("applystate: create plan %q: the stored apply has another Payload: %w", id, storage.ErrAlreadyExists)
	}
	stored, err := p.ops.ListOperations(ctx, id)
	if err != nil {
		return storage.Apply{}, nil, fmt.Errorf("applystate: create plan %q: %w", id, err)
	}
	out, err := storedAsPlanned(w, stored)
	if err != nil {
		return storage.Apply{}, nil, fmt.Errorf("applystate: create plan %q: %w", id, err)
	}
	lock := planLock(w)
	got, err := p.applies.GetApply(ctx, lock.ID)
	if err == nil {
		err = lockedFor(got, lock)
	} else if errors.Is(err, storage.ErrNotFound) {
		err = nil // an apply created before plan locks were taken
	}
	if err != nil {
		return storage.Apply{}, nil, fmt.Errorf("applystate: create plan %q: plan lock: %w", id, err)
	}
	if !Normalize(a.State).Terminal() {
		if err := p.list(ctx, id, createdVersion); err != nil { // a retry lists it again
			return storage.Apply{}, nil, err
		}
	}
	return a, out, nil
}

// storedAsPlanned returns the stored operations in the plan's order when
// they are exactly the operations of w, as planned; else an error
// matching storage.ErrAlreadyExists naming the difference.
func storedAsPlanned(w Plan, stored []storage.Operation) ([]storage.Operation, error) {
	if len(stored) != len(w.Operations) {
		return nil, fmt.Errorf("the stored apply has %d operations, the plan %d: %w", len(stored), len(w.Operations), storage.ErrAlreadyExists)
	}
	byID := make(map[string]storage.Operation, len(stored))
	for _, op := range stored {
		byID[op.ID] = op
	}
	out := make([]storage.Operation, 0, len(w.Operations))
	for _, op := range w.Operations {
		got, ok := byID[op.ID]
		if !ok {
			return nil, fmt.Errorf("operation %q is not stored: %w", op.ID, storage.ErrAlreadyExists)
		}
		if err := samePlanned(got, op); err != nil {
			return nil, fmt.Errorf("operation %q: %w", op.ID, err)
		}
		out = append(out, got)
	}
	return out, nil
}

// samePlanned reports (as an error matching storage.ErrAlreadyExists naming
// the fields) whether the stored operation got differs from the planned
// one in what a plan sets. State, timestamps and messages are the
// rollout's; a pause released to continue is still the plan's pause.
func samePlanned(got, want storage.Operation) error {
	var diff []string
	if got.Seq != want.Seq {
		diff = append(diff, "Seq")
	}
	if got.Deployment != want.Deployment {
		diff = append(diff, "Deployment")
	}
	if got.Group != want.Group {
		diff = append(diff, "Group")
	}
	if got.Finalizer != want.Finalizer {
		diff = append(diff, "Finalizer")
	}
	if g, w := policyOf(got.OnFailure), Policy(want.OnFailure); g != w && (g != Continue || w != Pause) {
		diff = append(diff, "OnFailure")
	}
	if !bytes.Equal(got.Payload, want.Payload) {
		diff = append(diff, "Payload")
	}
	if len(diff) > 0 {
		return fmt.Errorf("stored with another %s: %w", strings.Join(diff, ", "), storage.ErrAlreadyExists)
	}
	return nil
}
