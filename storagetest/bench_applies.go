package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
)

// openSize is the number of open applies the OpenApplies benchmark lists.
const openSize = 10000

// seedOpenApplies creates n open applies of one operation each through a
// Projector with the open-applies index, 32 at a time.
func seedOpenApplies(ctx context.Context, p *applystate.Projector, n int) error {
	return seedApplies(ctx, p, "open", n, nil)
}

// seedApplies creates n applies of one operation each ("op") through p,
// with ids starting with a unique id made of prefix, 32 at a time, and
// runs then (when not nil) over each one created.
func seedApplies(ctx context.Context, p *applystate.Projector, prefix string, n int, then func(ctx context.Context, id string) error) error {
	prefix = explore.UniqueID(prefix)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			id := fmt.Sprintf("%s-%05d", prefix, i)
			_, _, err := p.CreatePlan(gctx, applystate.Plan{Apply: storage.Apply{ID: id},
				Operations: []storage.Operation{{ID: "op", Deployment: "dep"}}})
			if err == nil && then != nil {
				err = then(gctx, id)
			}
			return err
		})
	}
	return g.Wait()
}

// benchOpenApplies measures [applystate.Projector.ListOpen] of openSize
// open applies in a namespace of their own over the default shards.
func benchOpenApplies(b *testing.B, rec *benchRecord, store storage.Store) {
	ctx := context.Background()
	fs := NewFaultStore(store)
	p, err := applystate.NewProjector(fs, fs, applystate.WithDiscovery(fs, explore.UniqueID("bench"), 0))
	if err != nil {
		b.Fatal(err)
	}
	if err := seedOpenApplies(ctx, p, openSize); err != nil {
		b.Fatal(err)
	}
	fs.ResetCounts()
	for b.Loop() {
		open, err := p.ListOpen(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(open) != openSize {
			b.Fatalf("ListOpen returned %d applies, want %d", len(open), openSize)
		}
	}
	rec.report(b, fs)
	b.Logf("open_applies n=%d: %.0f store calls, %v per ListOpen", openSize, float64(fs.TotalCalls())/float64(b.N), b.Elapsed()/timeDiv(b.N))
}

// timeDiv is n as a divisor of a duration.
func timeDiv(n int) time.Duration { return time.Duration(max(n, 1)) }
