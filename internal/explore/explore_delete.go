package explore

import (
	"context"
	"fmt"

	"github.com/statefold/statefold/internal/faultstore"
)

// The conditional deletes, each one step of the schedule like any write.

func (x *exStore) DeleteBatch(ctx context.Context, queue, id string, expectedVersion int64) error {
	return x.del(ctx, &exCall{method: faultstore.DeleteBatch, batch: id,
		desc: fmt.Sprintf("DeleteBatch(%s v%d)", exID(id), expectedVersion)},
		func() error { return x.inner.DeleteBatch(ctx, queue, id, expectedVersion) })
}

func (x *exStore) DeleteApply(ctx context.Context, id string, expectedVersion int64) error {
	return x.del(ctx, &exCall{method: faultstore.DeleteApply, desc: fmt.Sprintf("DeleteApply(%s v%d)", id, expectedVersion)},
		func() error { return x.inner.DeleteApply(ctx, id, expectedVersion) })
}

func (x *exStore) DeleteOperation(ctx context.Context, applyID, id string, expectedVersion int64) error {
	return x.del(ctx, &exCall{method: faultstore.DeleteOperation,
		desc: fmt.Sprintf("DeleteOperation(%s/%s v%d)", applyID, id, expectedVersion)},
		func() error { return x.inner.DeleteOperation(ctx, applyID, id, expectedVersion) })
}

// del runs the delete of c through the scheduler.
func (x *exStore) del(ctx context.Context, c *exCall, run func() error) error {
	var err error
	c.run = func() (string, error) {
		err = run()
		return exNote(err, "deleted"), err
	}
	if ierr := x.do(ctx, c); ierr != nil {
		return ierr
	}
	return err
}
