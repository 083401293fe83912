package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
)

// openSize is the number of open applies the OpenApplies benchmark lists.
const openSize = 10000

// pruneAppliesSize is the number of terminal applies the PruneApplies
// benchmark prunes.
const pruneAppliesSize = 10000

// seedApplies creates n applies of one operation each ("op") through p,
// with ids starting with a unique id made of prefix, 32 at a time, and
// runs then (when not nil) over each one created.
func seedApplies(ctx context.Context, p *applystate.Projector, prefix string, n int, then func(ctx context.Context, id string) error) error {
	prefix = explore.UniqueID(prefix)
	return seedEach(ctx, n, 32, func(ctx context.Context, i int) error {
		id := fmt.Sprintf("%s-%05d", prefix, i)
		_, _, err := p.CreatePlan(ctx, applystate.Plan{Apply: storage.Apply{ID: id},
			Operations: []storage.Operation{{ID: "op", Deployment: "dep"}}})
		if err == nil && then != nil {
			err = then(ctx, id)
		}
		return err
	})
}

// seedFinishedApplies creates n applies of one operation each through p
// (which keeps the open- and finished-applies indexes) and completes each,
// 32 at a time.
func seedFinishedApplies(ctx context.Context, p *applystate.Projector, n int) error {
	return seedApplies(ctx, p, "done", n, func(ctx context.Context, id string) error {
		_, err := p.Drive(ctx, id, []applystate.Task{{OperationID: "op", State: applystate.Completed}})
		return err
	})
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
	if err := seedApplies(ctx, p, "open", openSize, nil); err != nil {
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

// benchPruneApplies measures [applystate.Projector.PruneFinished] of
// pruneAppliesSize terminal applies in a namespace of their own, in calls
// of prunePage, until none is left (the seeding of each round is not
// timed or counted).
func benchPruneApplies(b *testing.B, rec *benchRecord, store storage.Store) {
	ctx := context.Background()
	fs := NewFaultStore(store)
	perOp := pruneRounds(b, rec, fs, pruneAppliesSize, "applies", func() pruneCall {
		p, err := applystate.NewProjector(fs, fs, applystate.WithDiscovery(fs, explore.UniqueID("bench"), 0))
		if err != nil {
			b.Fatal(err)
		}
		if err := seedFinishedApplies(ctx, p, pruneAppliesSize); err != nil {
			b.Fatal(err)
		}
		since := time.Now().Add(-48 * time.Hour)
		return func() (int, bool, error) {
			rep, err := p.PruneFinished(ctx, since, time.Now().Add(time.Second), prunePage)
			since = rep.Next
			return rep.Pruned, rep.More, err
		}
	})
	b.Logf("prune_applies n=%d: %.0f store calls, %v per prune of the applies", pruneAppliesSize, perOp, b.Elapsed()/timeDiv(b.N))
}
