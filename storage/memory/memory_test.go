package memory_test

import (
	"testing"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// TestContract runs the whole contract suite on a fresh store per subtest.
func TestContract(t *testing.T) {
	storagetest.Run(t, func(*testing.T) storage.Store { return memory.New() })
}

// TestContractSharedStore runs it again on one store shared by every
// subtest: the suite isolates itself with unique keys.
func TestContractSharedStore(t *testing.T) {
	shared := memory.New()
	storagetest.Run(t, func(*testing.T) storage.Store { return shared })
}

func BenchmarkStore(b *testing.B) {
	storagetest.RunBenchmarks(b, func(*testing.B) storage.Store { return memory.New() })
}
