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
// remote store would add storagetest.WithScale(0.2) to shrink the rounds
// and storagetest.WithModelCheck(storagetest.RemoteModelCheck()) to sample
// the model check's schedules; an in-process store like this one affords
// the bounded exploration of the default, here on 500 scenarios. (This
// store offers none of the optional capabilities, so its run is also the
// in-process check of the orchestrators' generic protocols: the memory
// backend reads a queue in one snapshot.)
func TestContract(t *testing.T) {
	m := storagetest.DefaultModelCheck()
	m.Scenarios = 500
	storagetest.RunHarness(t, &harness{}, storagetest.WithModelCheck(m))
}
