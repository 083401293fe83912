package explore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/internal/faultstore"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// CrashPointsWith explores the crash points with the calls under test
// going to a handle that fails calls on its own (as a network would): the
// invariants hold, and crash points are reached.
func TestCrashPointsWithNoisyActors(t *testing.T) {
	t.Parallel()
	store := memory.New()
	noisy := faultstore.New(store)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	noisy.SetHook(func(context.Context, faultstore.Method) error {
		mu.Lock()
		defer mu.Unlock()
		if rng.Float64() < 0.1 {
			return fmt.Errorf("connection refused: %w", storage.ErrUnavailable)
		}
		return nil
	})
	n, failed := explore.CrashPointsWith(t, store, noisy)
	require.Positive(t, n, "crash points reached")
	require.Zero(t, failed)
	require.Positive(t, noisy.TotalCalls())
}
