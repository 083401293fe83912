package postgres

import (
	"testing"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// TestContract runs the shared contract suite — CRUD, CAS, membership,
// keys, validation, round trips, the orchestration with crash points and
// the interleaving explorer — on one migrated store with per-run tables.
func TestContract(t *testing.T) {
	f := newFixture(t)
	storagetest.Run(t, func(*testing.T) storage.Store { return f.store }, storagetest.WithModelCheck(storagetest.RemoteModelCheck()))
}

func BenchmarkStore(b *testing.B) {
	f := newFixture(b)
	storagetest.RunBenchmarks(b, func(*testing.B) storage.Store { return f.store })
}
