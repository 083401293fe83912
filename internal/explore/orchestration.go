package explore

import (
	"testing"

	"github.com/statefold/statefold/storage"
)

// RunOrchestration runs batchstate and applystate end to end on the store:
// crash points, concurrency and bad input.
// n scales a round count or size; churnLists is how many Lists the churn
// test makes.
func RunOrchestration(t *testing.T, newStore func(t *testing.T) storage.Store, n func(int) int, churnLists int) {
	t.Run("CrashPoints", func(t *testing.T) {
		t.Parallel()
		runCrashPoints(t, newStore)
	})
	t.Run("Concurrency", func(t *testing.T) {
		t.Parallel()
		runConcurrency(t, newStore, n)
	})
	t.Run("Races", func(t *testing.T) {
		t.Parallel()
		runRaces(t, newStore)
	})
	t.Run("Churn", func(t *testing.T) {
		t.Parallel()
		runChurn(t, newStore(t), churnLists)
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
