package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
)

// pruneSize is the number of terminal batches the Prune benchmark prunes.
const pruneSize = 10000

// prunePage is the limit of each Prune call of the benchmark.
const prunePage = 1000

// pruneMachine is the benchmark's machine: open batches finish as done.
var pruneMachine = batchstate.Machine{States: []string{"open", "done"}, Terminal: []string{"done"},
	Transitions: map[string][]string{"open": {"done"}}}

// seedFinished creates n batches in a new queue and moves each to done,
// 32 at a time, and returns the queue.
func seedFinished(ctx context.Context, o *batchstate.Orchestrator, n int) (string, error) {
	queue := explore.UniqueID("prune")
	return queue, seedEach(ctx, n, 32, func(ctx context.Context, i int) error {
		b, err := o.Create(ctx, storage.Batch{Queue: queue, ID: fmt.Sprintf("b%05d", i), State: "open"})
		if err == nil {
			_, err = o.Transition(ctx, b, "done")
		}
		return err
	})
}

// benchPrune measures [batchstate.Orchestrator.Prune] of pruneSize
// terminal batches of one queue, in calls of prunePage, until none is left
// (the seeding of each round is not timed or counted).
func benchPrune(b *testing.B, rec *benchRecord, store storage.Store) {
	ctx := context.Background()
	fs := NewFaultStore(store)
	o, err := batchstate.New(fs, fs, pruneMachine, batchstate.WithFinishedIndex())
	if err != nil {
		b.Fatal(err)
	}
	perOp := pruneRounds(b, rec, fs, pruneSize, "batches", func() pruneCall {
		queue, err := seedFinished(ctx, o, pruneSize)
		if err != nil {
			b.Fatal(err)
		}
		return func() (int, bool, error) {
			now := time.Now()
			rep, err := o.Prune(ctx, queue, now.Add(-48*time.Hour), now.Add(time.Second), prunePage)
			return rep.Pruned, rep.More, err
		}
	})
	b.Logf("prune n=%d: %.0f store calls, %v per prune of the queue", pruneSize, perOp, b.Elapsed()/timeDiv(b.N))
}

// pruneCall prunes one page of a seeded round: how many it pruned, and
// whether more are left.
type pruneCall func() (pruned int, more bool, err error)

// pruneRounds runs the b.N rounds of a prune benchmark on fs: seed fills
// a round, untimed and uncounted, and returns the call that prunes it a
// page at a time; the pages are timed until none is left, and the round
// must have pruned want rows of what. It reports the store calls per round
// (calls/op, and to rec) and returns them.
func pruneRounds(b *testing.B, rec *benchRecord, fs *FaultStore, want int, what string, seed func() pruneCall) float64 {
	calls := 0
	for range b.N {
		b.StopTimer()
		prune := seed()
		before := fs.TotalCalls()
		b.StartTimer()
		pruned := 0
		for more := true; more; {
			n, m, err := prune()
			if err != nil {
				b.Fatal(err)
			}
			pruned, more = pruned+n, m
		}
		b.StopTimer()
		calls += fs.TotalCalls() - before
		if pruned != want {
			b.Fatalf("pruned %d %s, want %d", pruned, what, want)
		}
		b.StartTimer()
	}
	perOp := float64(calls) / float64(b.N)
	b.ReportMetric(perOp, "calls/op")
	rec.record(b, perOp)
	return perOp
}

// timeDiv is n as a divisor of a duration.
func timeDiv(n int) time.Duration { return time.Duration(max(n, 1)) }
