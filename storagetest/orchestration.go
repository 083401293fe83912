package storagetest

import (
	"testing"

	"github.com/statefold/statefold/storage"
)

// runOrchestration runs batchstate and applystate end to end on the store:
// crash points, concurrency and bad input.
func runOrchestration(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("CrashPoints", func(t *testing.T) {
		t.Parallel()
		runCrashPoints(t, newStore)
	})
	t.Run("Concurrency", func(t *testing.T) {
		t.Parallel()
		runConcurrency(t, newStore)
	})
	t.Run("Races", func(t *testing.T) {
		t.Parallel()
		runRaces(t, newStore)
	})
	t.Run("Churn", func(t *testing.T) {
		t.Parallel()
		lists := 2000
		if testing.Short() {
			lists = 200
		}
		runChurn(t, newStore(t), lists)
	})
	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		runBadInput(t, newStore)
	})
}
