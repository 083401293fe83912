package explore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
)

// CheckApplyNotEarly verifies that the apply is not terminal while one of
// its operations is still active: neither pending nor terminal.
func CheckApplyNotEarly(ctx context.Context, store storage.Store, applyID string) error {
	a, ops, err := readApply(ctx, store, applyID)
	if err != nil {
		return err
	}
	if !applystate.Normalize(a.State).Terminal() {
		return nil
	}
	var errs []error
	for _, op := range ops {
		s := applystate.Normalize(op.State)
		if s != applystate.Pending && !s.Terminal() {
			errs = append(errs, fmt.Errorf("apply %q is %q while operation %q is %q", applyID, a.State, op.ID, op.State))
		}
	}
	return errors.Join(errs...)
}

// CheckApplyProjected verifies that the apply's stored state is
// [applystate.Rollout] over its stored operations, as it must be after a
// fault-free Reproject (unless the apply was already terminal before).
func CheckApplyProjected(ctx context.Context, store storage.Store, applyID string) error {
	a, ops, err := readApply(ctx, store, applyID)
	if err != nil {
		return err
	}
	if applystate.Normalize(a.State).Terminal() {
		// A claimed start left on a terminal apply was never fenced (a
		// fenced claim holds the apply): it is inert.
		for i := range ops {
			if applystate.Normalize(ops[i].State) == applystate.Pending {
				ops[i].StartedAt = time.Time{}
			}
		}
	}
	want := applystate.Rollout(applystate.Children(ops), applystate.Flags{
		PauseReleased: a.PauseReleased, StopRequested: a.StopRequested,
	})
	if applystate.State(a.State) != want {
		return fmt.Errorf("apply %q is %q, want Rollout of its operations %q", applyID, a.State, want)
	}
	return nil
}

func readApply(ctx context.Context, store storage.Store, applyID string) (storage.Apply, []storage.Operation, error) {
	a, err := store.GetApply(ctx, applyID)
	if err != nil {
		return storage.Apply{}, nil, fmt.Errorf("get apply %q: %w", applyID, err)
	}
	ops, err := store.ListOperations(ctx, applyID)
	if err != nil {
		return storage.Apply{}, nil, fmt.Errorf("list operations %q: %w", applyID, err)
	}
	return a, ops, nil
}
