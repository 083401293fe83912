package memory_test

import (
	"testing"

	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// BenchmarkLarge measures List, a page and Reconcile of queues of 10,000
// and 100,000 batches (make bench prints them as large/memory/…).
func BenchmarkLarge(b *testing.B) {
	storagetest.RunLargeBenchmarks(b, memory.New(), nil)
}
