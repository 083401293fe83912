package upgrade

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// hookedMembers runs after once, the first time a List reads the bucket
// of state, before the List reads its next bucket.
type hookedMembers struct {
	storage.Store
	state string
	once  sync.Once
	after func()
}

func (h *hookedMembers) ListMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	rows, err := h.Store.ListMembers(ctx, queue, state)
	if state == h.state {
		h.once.Do(h.after)
	}
	return rows, err
}

// listDuringMove lists queued and testing with today's release, reading
// the testing bucket first, while move moves batch id from queued to
// testing between the two bucket reads; it reports whether the List
// returned the batch, and checks that the batch is stored in testing.
func listDuringMove(ctx context.Context, t *testing.T, st storage.Store, queue, id string, move func()) bool {
	t.Helper()
	h := &hookedMembers{Store: st, state: "testing", after: move}
	o, err := batchstate.New(h, h, queueMachine(t), batchstate.WithLogger(quiet()), batchstate.WithListConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	got, err := o.List(ctx, queue, "testing", "queued")
	if err != nil {
		t.Fatalf("today's List: %v", err)
	}
	b, err := st.GetBatch(ctx, queue, id)
	if err != nil {
		t.Fatal(err)
	}
	if b.State != "testing" {
		t.Fatalf("batch %s is %s after the move, want testing", id, b.State)
	}
	return slices.ContainsFunc(got, func(b storage.Batch) bool { return b.ID == id })
}

// TestRollingDeploy is the README's rolling-deploy rule from v0.1.0: no
// v0.1.0 process may move batches while a process of this release lists
// them. A v0.1.0 Transition removes the old state's index row as it
// moves the batch; a List of this release that read the new state's
// bucket before the move and the old state's after it misses a batch that
// was live in a listed state throughout. Under the rule (every v0.1.0
// writer stopped, only this release moving batches) the same List
// schedule returns it: this release's Transition leaves the old row for
// Reconcile.
func TestRollingDeploy(t *testing.T) {
	onEachBackend(t, 30*time.Second, func(ctx context.Context, t *testing.T, tb tables) {
		queue := tb.prefix + "queue"
		if tb.srv.backend == "postgres" {
			tb.ready(t)
		}
		runOld(t, tb.srv, tb.prefix, "create", "-tables", "-queue", queue, "-id", "mixed")
		st := tb.ready(t)
		if listDuringMove(ctx, t, st, queue, "mixed", func() {
			runOld(t, tb.srv, tb.prefix, "move", "-queue", queue, "-id", "mixed", "-to", "testing")
		}) {
			t.Errorf("a List beside a v0.1.0 writer returned the batch it moved: the README's rule forbids mixing " +
				"because such a List can miss it; if it no longer can, the rule and this test change together")
		}

		o, err := batchstate.New(st, st, queueMachine(t), batchstate.WithLogger(quiet()))
		if err != nil {
			t.Fatal(err)
		}
		b, err := o.Create(ctx, storage.Batch{Queue: queue, ID: "today", State: "queued"})
		if err != nil {
			t.Fatal(err)
		}
		if !listDuringMove(ctx, t, st, queue, "today", func() {
			if _, err := o.Transition(ctx, b, "testing"); err != nil {
				t.Errorf("today's Transition: %v", err)
			}
		}) {
			t.Errorf("with the v0.1.0 writers stopped, a List missed the batch this release moved during it")
		}
		if !t.Failed() {
			t.Logf("rolling deploy v0.1.0 -> today on %s: a List beside a v0.1.0 writer missed a live batch; with v0.1.0 writers stopped first, nothing missed", tb.srv.backend)
		}
	})
}
