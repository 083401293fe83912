package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
)

// pruneAppliesSize is the number of terminal applies the PruneApplies
// benchmark prunes.
const pruneAppliesSize = 10000

// seedFinishedApplies creates n applies of one operation each through p
// (which keeps the open- and finished-applies indexes) and completes each,
// 32 at a time.
func seedFinishedApplies(ctx context.Context, p *applystate.Projector, n int) error {
	return seedApplies(ctx, p, "done", n, func(ctx context.Context, id string) error {
		_, err := p.Drive(ctx, id, []applystate.Task{{OperationID: "op", State: applystate.Completed}})
		return err
	})
}

// benchPruneApplies measures [applystate.Projector.PruneFinished] of
// pruneAppliesSize terminal applies in a namespace of their own, in calls
// of prunePage, until none is left (the seeding of each round is not
// timed or counted).
func benchPruneApplies(b *testing.B, rec *benchRecord, store storage.Store) {
	ctx := context.Background()
	fs := NewFaultStore(store)
	calls := 0
	for range b.N {
		b.StopTimer()
		p, err := applystate.NewProjector(fs, fs, applystate.WithDiscovery(fs, explore.UniqueID("bench"), 0))
		if err != nil {
			b.Fatal(err)
		}
		if err := seedFinishedApplies(ctx, p, pruneAppliesSize); err != nil {
			b.Fatal(err)
		}
		before := fs.TotalCalls()
		b.StartTimer()
		pruned, since := 0, time.Now().Add(-48*time.Hour)
		for more := true; more; {
			rep, err := p.PruneFinished(ctx, since, time.Now().Add(time.Second), prunePage)
			if err != nil {
				b.Fatal(err)
			}
			pruned, more, since = pruned+rep.Pruned, rep.More, rep.Next
		}
		b.StopTimer()
		calls += fs.TotalCalls() - before
		if pruned != pruneAppliesSize {
			b.Fatalf("pruned %d applies, want %d", pruned, pruneAppliesSize)
		}
		b.StartTimer()
	}
	perOp := float64(calls) / float64(b.N)
	b.ReportMetric(perOp, "calls/op")
	rec.record(b, perOp)
	b.Logf("prune_applies n=%d: %.0f store calls, %v per prune of the applies", pruneAppliesSize, perOp, b.Elapsed()/timeDiv(b.N))
}
