package hook

import (
	"context"

	"github.com/statefold/statefold/storage"
)

// The stores of an orchestrator with hooks: their writes report conflicts
// and ambiguous outcomes to the call they run in.

// Applies returns s reporting its writes.
func Applies(s storage.ApplyStore) storage.ApplyStore { return applies{s} }

type applies struct{ storage.ApplyStore }

func (s applies) CreateApply(ctx context.Context, a storage.Apply) (storage.Apply, error) {
	got, err := s.ApplyStore.CreateApply(ctx, a)
	return got, written(ctx, "CreateApply", err)
}

func (s applies) UpdateApply(ctx context.Context, a storage.Apply, expected int64) (storage.Apply, error) {
	got, err := s.ApplyStore.UpdateApply(ctx, a, expected)
	return got, written(ctx, "UpdateApply", err)
}

// Operations returns s reporting its writes; nil stays nil.
func Operations(s storage.OperationStore) storage.OperationStore {
	if s == nil {
		return nil
	}
	return operations{s}
}

type operations struct{ storage.OperationStore }

func (s operations) CreateOperation(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	got, err := s.OperationStore.CreateOperation(ctx, op)
	return got, written(ctx, "CreateOperation", err)
}

func (s operations) UpdateOperation(ctx context.Context, op storage.Operation, expected int64) (storage.Operation, error) {
	got, err := s.OperationStore.UpdateOperation(ctx, op, expected)
	return got, written(ctx, "UpdateOperation", err)
}

// Batches returns s reporting its writes.
func Batches(s storage.BatchStore) storage.BatchStore { return batches{s} }

type batches struct{ storage.BatchStore }

func (s batches) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	got, err := s.BatchStore.CreateBatch(ctx, b)
	return got, written(ctx, "CreateBatch", err)
}

func (s batches) UpdateBatch(ctx context.Context, b storage.Batch, version int64, state string) (storage.Batch, error) {
	got, err := s.BatchStore.UpdateBatch(ctx, b, version, state)
	return got, written(ctx, "UpdateBatch", err)
}

// Members returns s reporting its writes.
func Members(s storage.MembershipStore) storage.MembershipStore { return members{s} }

type members struct{ storage.MembershipStore }

func (s members) AddMember(ctx context.Context, m storage.Member) error {
	return written(ctx, "AddMember", s.MembershipStore.AddMember(ctx, m))
}

func (s members) RemoveMember(ctx context.Context, queue, state, id string, maxVersion int64) error {
	return written(ctx, "RemoveMember", s.MembershipStore.RemoveMember(ctx, queue, state, id, maxVersion))
}
