package hook

import (
	"context"

	"github.com/statefold/statefold/storage"
)

// Mover returns m reporting its writes; nil stays nil.
func Mover(m storage.Mover) storage.Mover {
	if m == nil {
		return nil
	}
	return mover{m}
}

type mover struct{ storage.Mover }

func (s mover) MoveBatch(ctx context.Context, m storage.Member, b storage.Batch, version int64, state string) (storage.Batch, error) {
	got, err := s.Mover.MoveBatch(ctx, m, b, version, state)
	return got, written(ctx, "MoveBatch", err)
}
