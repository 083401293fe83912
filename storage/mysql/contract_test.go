package mysql

import (
	"testing"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// TestContract runs the shared contract suite — CRUD, CAS, membership,
// keys, validation, round trips and the orchestration end to end with crash
// points — on one migrated store with per-run tables.
func TestContract(t *testing.T) {
	f := newFixture(t)
	// A shorter churn than memory's 2,000 Lists: each List here is a few
	// round trips, and 300 still overlap thousands of moves and dozens of
	// Reconciles (the model check explores those orders one by one).
	storagetest.Run(t, func(*testing.T) storage.Store { return f.store }, storagetest.WithChurnLists(300),
		storagetest.WithModelCheck(storagetest.RemoteModelCheck()))
}

func BenchmarkStore(b *testing.B) {
	f := newFixture(b)
	storagetest.RunBenchmarks(b, func(*testing.B) storage.Store { return f.store })
}
