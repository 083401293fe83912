package storage

import "context"

// Driver is what a backend implements: the methods of [Store] with the
// same answers, errors and concurrency rules, called only through the
// layer [Checked] puts around it. A Driver method may assume that its
// input has passed the checks (keys, limits, times, versions) and is
// normalized ([NormalizeBatch] and its kin: UTC microsecond times, a
// payload of its own, nil when empty), and that GetBatches gets each id
// once. It stores and compares; it never needs a Validate* call.
type Driver interface {
	BatchStore
	MembershipStore
	ApplyStore
	OperationStore
}

// Checked returns the portable layer over d: a [Store] that checks every
// input of every call before d sees it — an input error is a
// [*FieldError] matching [ErrInvalid] that names the field, and d is not
// called, so nothing is written — then hands d the normalized input.
// Every backend of this module returns its driver wrapped by Checked; a
// backend of your own gets the same checks by doing so.
func Checked(d Driver) Store { return checked{d} }

// checked is the portable layer: checks, normalization, then the driver.
type checked struct{ d Driver }

func (c checked) CreateBatch(ctx context.Context, b Batch) (Batch, error) {
	if err := ValidateBatch(b); err != nil {
		return Batch{}, err
	}
	return c.d.CreateBatch(ctx, NormalizeBatch(b))
}

func (c checked) GetBatch(ctx context.Context, queue, id string) (Batch, error) {
	if err := ValidateKeys("queue", queue, "id", id); err != nil {
		return Batch{}, err
	}
	return c.d.GetBatch(ctx, queue, id)
}

func (c checked) GetBatches(ctx context.Context, queue string, ids []string) ([]Batch, error) {
	if err := first(ValidateKey("queue", queue), ValidateIDs("ids", ids)); err != nil {
		return nil, err
	}
	return c.d.GetBatches(ctx, queue, distinct(ids))
}

// distinct returns ids without repeats, in their first order.
func distinct(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

func (c checked) UpdateBatch(ctx context.Context, b Batch, expectedVersion int64, expectedState string) (Batch, error) {
	if err := first(ValidateBatch(b), ValidateVersion("expectedVersion", expectedVersion),
		ValidateKey("expectedState", expectedState)); err != nil {
		return Batch{}, err
	}
	return c.d.UpdateBatch(ctx, NormalizeBatch(b), expectedVersion, expectedState)
}

func (c checked) AddMember(ctx context.Context, m Member) error {
	if err := ValidateMember(m); err != nil {
		return err
	}
	return c.d.AddMember(ctx, NormalizeMember(m))
}

func (c checked) RemoveMember(ctx context.Context, queue, state, batchID string, maxVersion int64) error {
	if err := first(ValidateKeys("queue", queue, "state", state, "batchID", batchID),
		ValidateMaxVersion("maxVersion", maxVersion)); err != nil {
		return err
	}
	return c.d.RemoveMember(ctx, queue, state, batchID, maxVersion)
}

func (c checked) ListMembers(ctx context.Context, queue, state string) ([]Member, error) {
	if err := ValidateKeys("queue", queue, "state", state); err != nil {
		return nil, err
	}
	return c.d.ListMembers(ctx, queue, state)
}

func (c checked) CreateApply(ctx context.Context, a Apply) (Apply, error) {
	if err := ValidateApply(a); err != nil {
		return Apply{}, err
	}
	return c.d.CreateApply(ctx, NormalizeApply(a))
}

func (c checked) GetApply(ctx context.Context, id string) (Apply, error) {
	if err := ValidateKey("id", id); err != nil {
		return Apply{}, err
	}
	return c.d.GetApply(ctx, id)
}

func (c checked) UpdateApply(ctx context.Context, a Apply, expectedVersion int64) (Apply, error) {
	if err := first(ValidateApply(a), ValidateVersion("expectedVersion", expectedVersion)); err != nil {
		return Apply{}, err
	}
	return c.d.UpdateApply(ctx, NormalizeApply(a), expectedVersion)
}

func (c checked) CreateOperation(ctx context.Context, op Operation) (Operation, error) {
	if err := ValidateOperation(op); err != nil {
		return Operation{}, err
	}
	return c.d.CreateOperation(ctx, NormalizeOperation(op))
}

func (c checked) GetOperation(ctx context.Context, applyID, id string) (Operation, error) {
	if err := ValidateKeys("applyID", applyID, "id", id); err != nil {
		return Operation{}, err
	}
	return c.d.GetOperation(ctx, applyID, id)
}

func (c checked) ListOperations(ctx context.Context, applyID string) ([]Operation, error) {
	if err := ValidateKey("applyID", applyID); err != nil {
		return nil, err
	}
	return c.d.ListOperations(ctx, applyID)
}

func (c checked) UpdateOperation(ctx context.Context, op Operation, expectedVersion int64) (Operation, error) {
	if err := first(ValidateOperation(op), ValidateVersion("expectedVersion", expectedVersion)); err != nil {
		return Operation{}, err
	}
	return c.d.UpdateOperation(ctx, NormalizeOperation(op), expectedVersion)
}

func (c checked) DeleteBatch(ctx context.Context, queue, id string, expectedVersion int64) error {
	if err := first(ValidateKeys("queue", queue, "id", id), ValidateVersion("expectedVersion", expectedVersion)); err != nil {
		return err
	}
	return c.d.DeleteBatch(ctx, queue, id, expectedVersion)
}

func (c checked) DeleteApply(ctx context.Context, id string, expectedVersion int64) error {
	if err := first(ValidateKey("id", id), ValidateVersion("expectedVersion", expectedVersion)); err != nil {
		return err
	}
	return c.d.DeleteApply(ctx, id, expectedVersion)
}

func (c checked) DeleteOperation(ctx context.Context, applyID, id string, expectedVersion int64) error {
	if err := first(ValidateKeys("applyID", applyID, "id", id), ValidateVersion("expectedVersion", expectedVersion)); err != nil {
		return err
	}
	return c.d.DeleteOperation(ctx, applyID, id, expectedVersion)
}
