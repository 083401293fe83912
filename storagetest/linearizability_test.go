package storagetest_test

import (
	"context"
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
