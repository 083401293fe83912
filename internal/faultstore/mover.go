package faultstore

import (
	"context"

	"github.com/statefold/statefold/storage"
)

// MoveBatch is storage.Mover.MoveBatch: a write, counted and faulted like
// the others, and not among [Methods] (a store need not offer it).
const MoveBatch Method = "MoveBatch"

// MoveBatch implements [storage.Mover] when the wrapped store does, and
// answers errors.ErrUnsupported otherwise.
func (f *Store) MoveBatch(ctx context.Context, m storage.Member, b storage.Batch, expectedVersion int64, expectedState string) (storage.Batch, error) {
	mv, ok := f.inner.(storage.Mover)
	if !ok {
		return storage.Batch{}, errUnsupported
	}
	return call(ctx, f, MoveBatch, func() (storage.Batch, error) {
		return mv.MoveBatch(ctx, m, b, expectedVersion, expectedState)
	})
}
