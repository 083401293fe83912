package storagetest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// moverStore offers storage.Mover over a store without it, as AddMember
// and then UpdateBatch; unsupported answers errors.ErrUnsupported instead,
// as storage.Checked does over a driver without the capability.
type moverStore struct {
	storage.Store
	unsupported bool
}

func (s moverStore) MoveBatch(ctx context.Context, m storage.Member, b storage.Batch, version int64, state string) (storage.Batch, error) {
	if s.unsupported {
		return storage.Batch{}, errors.ErrUnsupported
	}
	if err := ctx.Err(); err != nil {
		return storage.Batch{}, err
	}
	if err := s.AddMember(ctx, m); err != nil {
		return storage.Batch{}, err
	}
	return s.UpdateBatch(ctx, b, version, state)
}

// The matrix calls MoveBatch, in the compare-and-swaps' column, exactly on
// a store that offers storage.Mover: one more case per failure kind.
func TestCheckClassificationCallsMoveBatchOnAMover(t *testing.T) {
	t.Parallel()
	want := storagetest.ClassificationMatrix{"no failure": {"ok", "ok, written", "ok, written", "ok, written", "ok, written"}}
	for _, tc := range []struct {
		name  string
		store storage.Store
		cases int
	}{
		{"memory", memory.New(), len(storagetest.Methods())},
		{"mover", moverStore{Store: memory.New()}, len(storagetest.Methods()) + 1},
		{"unsupported", moverStore{Store: memory.New(), unsupported: true}, len(storagetest.Methods())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			faults := []storagetest.ClassificationFault{{Kind: "no failure", Arm: func(*testing.T, storagetest.ClassificationCell) (storage.Store, context.Context, func()) {
				return tc.store, context.Background(), nil
			}}}
			cases, wrong := storagetest.CheckClassification(t, tc.name, tc.store, want, faults)
			require.Equal(t, tc.cases, cases)
			require.Zero(t, wrong)
		})
	}
}
