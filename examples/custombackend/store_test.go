package custombackend_test

import (
	"testing"

	"github.com/statefold/statefold/examples/custombackend"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// harness is what a backend hands the suite: a store per subtest (asked
// for from many subtests at once) and a Close. A database backend opens its
// connection pool and creates per-run tables here, and drops them in Close.
type harness struct{}

func (h *harness) NewStore(*testing.T) storage.Store { return custombackend.New() }

func (h *harness) Close() error { return nil }

// TestContract is the whole of what a third party writes to prove a backend:
// the shared contract suite, run on fresh stores of the harness. A slow
// remote store would add storagetest.WithScale(0.2) to shrink the rounds;
// the model check runs at the size meant for a store over a network (the
// memory backend's run checks the full 2,000 scenarios).
func TestContract(t *testing.T) {
	storagetest.RunHarness(t, &harness{}, storagetest.WithModelCheck(storagetest.RemoteModelCheck()))
}
