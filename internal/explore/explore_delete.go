package explore

import (
	"context"
	"fmt"

	"github.com/statefold/statefold/internal/faultstore"
)

// The conditional deletes, each one step of the schedule like any write.

func (x *exStore) DeleteBatch(ctx context.Context, queue, id string, expectedVersion int64) error {
	return x.exec(ctx, &exCall{method: faultstore.DeleteBatch, batch: id,
		desc: fmt.Sprintf("DeleteBatch(%s v%d)", exID(id), expectedVersion)},
		"deleted", func() error { return x.inner.DeleteBatch(ctx, queue, id, expectedVersion) })
}

func (x *exStore) DeleteApply(ctx context.Context, id string, expectedVersion int64) error {
	return x.exec(ctx, &exCall{method: faultstore.DeleteApply, desc: fmt.Sprintf("DeleteApply(%s v%d)", id, expectedVersion)},
		"deleted", func() error { return x.inner.DeleteApply(ctx, id, expectedVersion) })
}

func (x *exStore) DeleteOperation(ctx context.Context, applyID, id string, expectedVersion int64) error {
	return x.exec(ctx, &exCall{method: faultstore.DeleteOperation,
		desc: fmt.Sprintf("DeleteOperation(%s/%s v%d)", applyID, id, expectedVersion)},
		"deleted", func() error { return x.inner.DeleteOperation(ctx, applyID, id, expectedVersion) })
}
