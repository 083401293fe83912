package hook

import (
	"context"

	"github.com/statefold/statefold/storage"
)

// The stores of an orchestrator with hooks: their writes report conflicts
// and ambiguous outcomes to the call they run in.

// wrote reports the error of a write of method as [written] does and
// returns the row the write returned with it:
// wrote[Row](ctx, "Method")(store.Method(ctx, ...)).
func wrote[Row any](ctx context.Context, method string) func(Row, error) (Row, error) {
	return func(row Row, err error) (Row, error) { return row, written(ctx, method, err) }
}

// Applies returns s reporting its writes.
func Applies(s storage.ApplyStore) storage.ApplyStore { return applies{s} }

type applies struct{ storage.ApplyStore }

func (s applies) CreateApply(ctx context.Context, a storage.Apply) (storage.Apply, error) {
	return wrote[storage.Apply](ctx, "CreateApply")(s.ApplyStore.CreateApply(ctx, a))
}

func (s applies) UpdateApply(ctx context.Context, a storage.Apply, expected int64) (storage.Apply, error) {
	return wrote[storage.Apply](ctx, "UpdateApply")(s.ApplyStore.UpdateApply(ctx, a, expected))
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
	return wrote[storage.Operation](ctx, "CreateOperation")(s.OperationStore.CreateOperation(ctx, op))
}

func (s operations) UpdateOperation(ctx context.Context, op storage.Operation, expected int64) (storage.Operation, error) {
	return wrote[storage.Operation](ctx, "UpdateOperation")(s.OperationStore.UpdateOperation(ctx, op, expected))
}

// Batches returns s reporting its writes.
func Batches(s storage.BatchStore) storage.BatchStore { return batches{s} }

type batches struct{ storage.BatchStore }

func (s batches) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	return wrote[storage.Batch](ctx, "CreateBatch")(s.BatchStore.CreateBatch(ctx, b))
}

func (s batches) UpdateBatch(ctx context.Context, b storage.Batch, version int64, state string) (storage.Batch, error) {
	return wrote[storage.Batch](ctx, "UpdateBatch")(s.BatchStore.UpdateBatch(ctx, b, version, state))
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
