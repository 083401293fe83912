package storagetest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// The memory store is linearizable; a store whose reads may return a
// stale row, or whose AddMember lowers a newer row, is not, and the
// checker says so.
func TestCheckLinearizable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		store storage.Store
		want  bool
	}{
		{"memory", memory.New(), true},
		{"lower-overwrites", lowerOverwrites{memory.New()}, false},
		{"non-atomic-cas", nonAtomicCAS{memory.New()}, false},
		{"delete-ignores-version", deleteIgnoresVersion{memory.New()}, false},
		// Every third update fails as unavailable: before it ran, or after
		// it landed — ambiguous (fine), or claiming it did not (a lie).
		{"unavailable-before-running", &lostUpdates{Store: memory.New(), landed: false}, true},
		{"ambiguous-after-landing", &lostUpdates{Store: memory.New(), landed: true, ambiguous: true}, true},
		{"unavailable-after-landing", &lostUpdates{Store: memory.New(), landed: true}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res, err := storagetest.CheckLinearizable(ctx, c.store, storagetest.LinearizabilityConfig{Clients: 8, Operations: 150, Seed: 1})
			require.NoError(t, err)
			require.False(t, res.Unknown, "the check finished")
			require.Positive(t, res.Operations)
			require.Equal(t, c.want, res.Linearizable, "%+v", res)
		})
	}
}

// lostUpdates fails every third UpdateBatch with storage.ErrUnavailable,
// after writing it when landed is set, and also with storage.ErrAmbiguous
// when ambiguous is set.
type lostUpdates struct {
	*memory.Store
	landed, ambiguous bool
	n                 atomic.Int64
}

func (s *lostUpdates) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64, expectedState string) (storage.Batch, error) {
	if s.n.Add(1)%3 != 0 {
		return s.Store.UpdateBatch(ctx, b, expectedVersion, expectedState)
	}
	if s.landed {
		if _, err := s.Store.UpdateBatch(ctx, b, expectedVersion, expectedState); err != nil {
			return storage.Batch{}, err
		}
	}
	err := fmt.Errorf("connection lost: %w", storage.ErrUnavailable)
	if s.ambiguous {
		err = fmt.Errorf("%w: %w", storage.ErrAmbiguous, err)
	}
	return storage.Batch{}, err
}

// deleteIgnoresVersion deletes a batch at whatever version is stored.
type deleteIgnoresVersion struct{ *memory.Store }

func (s deleteIgnoresVersion) DeleteBatch(ctx context.Context, queue, id string, _ int64) error {
	b, err := s.GetBatch(ctx, queue, id)
	if err != nil {
		return err
	}
	return s.Store.DeleteBatch(ctx, queue, id, b.Version)
}
