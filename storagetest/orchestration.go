package storagetest

import (
	"testing"

	"github.com/statefold/statefold/storage"
)

// orchestration runs batchstate and applystate end to end on the store:
// crash points, concurrency and bad input.
func (cfg runConfig) orchestration(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("CrashPoints", func(t *testing.T) {
		t.Parallel()
		runCrashPoints(t, newStore)
	})
	t.Run("Concurrency", func(t *testing.T) {
		t.Parallel()
		runConcurrency(t, newStore, cfg.n)
	})
	t.Run("Races", func(t *testing.T) {
		t.Parallel()
		runRaces(t, newStore)
	})
	t.Run("Churn", func(t *testing.T) {
		t.Parallel()
		runChurn(t, newStore(t), cfg.churnLists)
	})
	t.Run("Ownership", func(t *testing.T) {
		t.Parallel()
		runOwnership(t, newStore)
	})
	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		runBadInput(t, newStore)
	})
}
