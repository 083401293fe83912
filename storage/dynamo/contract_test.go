package dynamo

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// TestContract runs the shared contract suite — CRUD, CAS, membership,
// keys, validation, round trips and the orchestration end to end with crash
// points — on one store with per-run tables. Across the whole run the store
// sends only key-addressed operations: no Scan, no transactions.
func TestContract(t *testing.T) {
	rec, hc := withRecorder(nil)
	f := newFixture(t, hc)
	t.Cleanup(func() { // after every (parallel) subtest
		allowed := map[string]bool{"GetItem": true, "PutItem": true, "DeleteItem": true, "Query": true, "BatchGetItem": true}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		require.NotZero(t, rec.ops["PutItem"])
		for op := range rec.ops {
			require.True(t, allowed[op] || op == "CreateTable" || op == "DescribeTable", "operation %s", op)
		}
	})
	// dynalite serves one request at a time: a shorter churn (100 Lists
	// still overlap thousands of moves and dozens of Reconciles).
	storagetest.Run(t, func(*testing.T) storage.Store { return f.store }, storagetest.WithChurnLists(100),
		storagetest.WithModelCheck(storagetest.RemoteModelCheck()))
}

func BenchmarkStore(b *testing.B) {
	f := newFixture(b, nil)
	storagetest.RunBenchmarks(b, func(*testing.B) storage.Store { return f.store })
}
