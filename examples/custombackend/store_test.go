package custombackend_test

import (
	"testing"

	"github.com/statefold/statefold/examples/custombackend"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// TestContract is the whole of what a third party writes to prove a backend:
// the shared contract suite, run on a fresh store.
func TestContract(t *testing.T) {
	storagetest.Run(t, func(*testing.T) storage.Store { return custombackend.New() })
}
