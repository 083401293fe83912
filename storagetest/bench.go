package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/explore"
)

// seedEach runs f for each i in [0, n), atOnce at a time: the seeding
// loop of the benchmarks. It returns the first error, which cancels the
// context the other calls get.
func seedEach(ctx context.Context, n, atOnce int, f func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(atOnce)
	for i := range n {
		g.Go(func() error { return f(gctx, i) })
	}
	return g.Wait()
}

// ListSizes are the queue sizes the List benchmarks measure.
var listSizes = []int{10, 100, 1000}

// listStates are the three live states the List benchmarks spread batches over.
var listStates = []string{"queued", "running", "merging"}

// RunBenchmarks measures the orchestration on the store returned by
// newStore, each benchmark next to its naive baseline so that the two can
// be compared as a ratio from one run:
//
//   - List/n=N/ours and List/n=N/naive: a queue of N live batches over three
//     states plus N/2 stale rows, resolved by [batchstate.Orchestrator.List]
//     and by one GetBatch per row;
//
//   - Transition/ours and Transition/update: one Transition against one bare
//     UpdateBatch; Create/ours and Create/create likewise;
//
//   - Drive32: 32 sibling operations of one apply driven concurrently to
//     completion, per apply.
//
//   - DrivePoll/n=N: the routine poll of one running deployment of an apply
//     with N operations, which changes nothing: its cost (calls/op, ns/op)
//     does not grow with N.
//
//   - Ownership/acquire, Ownership/renew and Ownership/update: one
//     [applystate.Projector.Acquire] (a read and a compare-and-swap of the
//     operation row; each call a new acquisition with a larger token), one
//     Renew (the same), against one bare UpdateOperation;
//     Ownership/poll: the routine poll of DrivePoll/n=1000 by the owner,
//     under its lease (still two point reads).
//
//   - Lookup/n=1000/ours and Lookup/n=1000/scan: the batch of one request
//     found by [batchstate.Orchestrator.Lookup] in a queue of 1,000 live
//     batches, against the queue listed and filtered by the request.
//
//   - OpenApplies/n=10000: [applystate.Projector.ListOpen] of 10,000 open
//     applies (one ListMembers per shard, one GetApply per apply).
//
//   - Prune/n=10000: [batchstate.Orchestrator.Prune] of a queue's 10,000
//     terminal batches, in calls of 1,000, until none is left.
//
//   - PruneApplies/n=10000: [applystate.Projector.PruneFinished] of 10,000
//     terminal applies, in calls of 1,000, until none is left.
//
// Every benchmark reports store round trips as calls/op; Drive32 also
// reports conflicts/drive. At the end RunBenchmarks logs (go test -v) the
// ratios a backend author compares, all from the one run: List against
// one GetBatch per row, Transition and Create against the bare store
// write, the routine poll at 1,000 operations against 10, acquiring and
// renewing against the bare operation update, and the owner's poll
// against the plain one. newStore may return the same store each time.
func RunBenchmarks(b *testing.B, newStore func(b *testing.B) storage.Store) {
	rec := &benchRecord{ns: map[string]float64{}, calls: map[string]float64{}}
	for _, n := range listSizes {
		b.Run(fmt.Sprintf("List/n=%d", n), func(b *testing.B) { benchList(b, rec, newStore(b), n) })
	}
	b.Run("Transition", func(b *testing.B) { benchTransition(b, rec, newStore(b)) })
	b.Run("Create", func(b *testing.B) { benchCreate(b, rec, newStore(b)) })
	b.Run("Drive32", func(b *testing.B) { benchDrive(b, rec, newStore(b), 32) })
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("DrivePoll/n=%d", n), func(b *testing.B) { benchDrivePoll(b, rec, newStore(b), n) })
	}
	b.Run("Ownership", func(b *testing.B) { benchOwnership(b, rec, newStore(b)) })
	b.Run(fmt.Sprintf("Lookup/n=%d", lookupSize), func(b *testing.B) { benchLookup(b, rec, newStore(b)) })
	b.Run(fmt.Sprintf("OpenApplies/n=%d", openSize), func(b *testing.B) { benchOpenApplies(b, rec, newStore(b)) })
	b.Run(fmt.Sprintf("Prune/n=%d", pruneSize), func(b *testing.B) { benchPrune(b, rec, newStore(b)) })
	b.Run(fmt.Sprintf("PruneApplies/n=%d", pruneAppliesSize), func(b *testing.B) { benchPruneApplies(b, rec, newStore(b)) })
	rec.ratios(b)
}

// benchRecord keeps the ns/op and calls/op of each benchmark RunBenchmarks
// ran (its last run), by name below RunBenchmarks' own, for the ratios.
type benchRecord struct {
	mu        sync.Mutex
	ns, calls map[string]float64
}

// report reports the store calls made since the last reset per op, and
// records them with the benchmark's ns/op.
func (r *benchRecord) report(b *testing.B, fs *FaultStore) {
	calls := float64(fs.TotalCalls()) / float64(b.N)
	b.ReportMetric(calls, "calls/op")
	r.record(b, calls)
}

// record records calls per op with the benchmark's ns/op.
func (r *benchRecord) record(b *testing.B, calls float64) {
	name := b.Name()
	if i := strings.Index(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	r.mu.Lock()
	r.ns[name] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	r.calls[name] = calls
	r.mu.Unlock()
}

// ratios logs, from this run, the ratios a backend author compares: List
// against one GetBatch per row, Transition and Create against the bare
// store write, and the routine poll at 1,000 operations against 10.
func (r *benchRecord) ratios(b *testing.B) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ratio := func(name, x, y string) {
		if nx, ny := r.ns[x], r.ns[y]; nx > 0 && ny > 0 {
			b.Logf("ratio %s: %.2f (%s %.0f ns/op, %s %.0f ns/op)", name, nx/ny, x, nx, y, ny)
		}
	}
	for _, n := range listSizes {
		ratio(fmt.Sprintf("list_speedup/n=%d (naive / ours, want > 1 on a networked store)", n),
			fmt.Sprintf("List/n=%d/naive", n), fmt.Sprintf("List/n=%d/ours", n))
	}
	ratio("transition_vs_update (Transition / bare UpdateBatch)", "Transition/ours", "Transition/update")
	ratio("create_vs_create (Create / bare CreateBatch)", "Create/ours", "Create/create")
	ratio("drive_poll n=1000 vs n=10 (want about 1: flat in the number of operations)", "DrivePoll/n=1000", "DrivePoll/n=10")
	if c := r.calls["DrivePoll/n=1000"]; c > 0 {
		b.Logf("drive_poll_calls n=1000: %.1f store calls per routine poll", c)
	}
	ratio("acquire_vs_update (Acquire / bare UpdateOperation)", "Ownership/acquire", "Ownership/update")
	ratio("renew_vs_update (Renew / bare UpdateOperation)", "Ownership/renew", "Ownership/update")
	ratio(fmt.Sprintf("lookup_speedup/n=%d (the queue listed and filtered / Lookup, want >= 10)", lookupSize),
		fmt.Sprintf("Lookup/n=%d/scan", lookupSize), fmt.Sprintf("Lookup/n=%d/ours", lookupSize))
	ratio("owner_poll_vs_poll (the owner's poll under its lease / DrivePoll n=1000)", "Ownership/poll", "DrivePoll/n=1000")
	for _, name := range []string{"Ownership/acquire", "Ownership/renew", "Ownership/poll"} {
		if c, ok := r.calls[name]; ok {
			b.Logf("ownership_calls %s: %.1f store calls", name, c)
		}
	}
}

func benchOrchestrator(b *testing.B, store storage.Store) (*FaultStore, *batchstate.Orchestrator) {
	fs := NewFaultStore(store)
	o, err := batchstate.New(fs, fs, explore.CrashMachine)
	if err != nil {
		b.Fatal(err)
	}
	return fs, o
}

func benchList(b *testing.B, rec *benchRecord, store storage.Store, n int) {
	ctx := context.Background()
	queue, err := explore.SeedListQueue(ctx, store, n, listStates)
	if err != nil {
		b.Fatal(err)
	}
	fs, o := benchOrchestrator(b, store)
	check := func(b *testing.B, got []storage.Batch) {
		if len(got) != n {
			b.Fatalf("listed %d batches, want %d", len(got), n)
		}
	}
	b.Run("ours", func(b *testing.B) {
		fs.ResetCounts()
		for b.Loop() {
			got, err := o.List(ctx, queue, listStates...)
			if err != nil {
				b.Fatal(err)
			}
			check(b, got)
		}
		rec.report(b, fs)
	})
	b.Run("naive", func(b *testing.B) {
		fs.ResetCounts()
		for b.Loop() {
			got, err := naiveList(ctx, fs, queue, listStates...)
			if err != nil {
				b.Fatal(err)
			}
			check(b, got)
		}
		rec.report(b, fs)
	})
}

// naiveList is the baseline List: every row of every bucket resolved with
// its own GetBatch, sequentially, keeping batches still in the state.
func naiveList(ctx context.Context, store storage.Store, queue string, states ...string) ([]storage.Batch, error) {
	var out []storage.Batch
	for _, s := range states {
		rows, err := store.ListMembers(ctx, queue, s)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			bt, err := store.GetBatch(ctx, queue, r.BatchID)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if bt.State == s {
				out = append(out, bt)
			}
		}
	}
	return out, nil
}

func benchTransition(b *testing.B, rec *benchRecord, store storage.Store) {
	ctx := context.Background()
	fs, o := benchOrchestrator(b, store)
	queue := UniqueID("benchtr")
	cur, err := o.Create(ctx, storage.Batch{Queue: queue, ID: "t", State: "queued"})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := store.CreateBatch(ctx, storage.Batch{Queue: queue, ID: "u", State: "queued", CreatedAt: cur.CreatedAt, UpdatedAt: cur.UpdatedAt})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ours", func(b *testing.B) {
		fs.ResetCounts()
		for b.Loop() {
			to := "running"
			if cur.State == "running" {
				to = "queued"
			}
			if cur, err = o.Transition(ctx, cur, to); err != nil {
				b.Fatal(err)
			}
		}
		rec.report(b, fs)
	})
	b.Run("update", func(b *testing.B) {
		fs.ResetCounts()
		for b.Loop() {
			next := raw
			next.State = map[string]string{"queued": "running", "running": "queued"}[raw.State]
			if raw, err = fs.UpdateBatch(ctx, next, raw.Version, raw.State); err != nil {
				b.Fatal(err)
			}
		}
		rec.report(b, fs)
	})
}

func benchCreate(b *testing.B, rec *benchRecord, store storage.Store) {
	ctx := context.Background()
	fs, o := benchOrchestrator(b, store)
	queue := UniqueID("benchcr")
	var seq atomic.Int64
	b.Run("ours", func(b *testing.B) {
		runCounted(b, rec, fs, func() error {
			_, err := o.Create(ctx, storage.Batch{Queue: queue, ID: fmt.Sprintf("o%d", seq.Add(1)), State: "queued"})
			return err
		})
	})
	b.Run("create", func(b *testing.B) {
		runCounted(b, rec, fs, func() error {
			_, err := fs.CreateBatch(ctx, storage.Batch{Queue: queue, ID: fmt.Sprintf("c%d", seq.Add(1)), State: "queued"})
			return err
		})
	})
}

func benchDrive(b *testing.B, rec *benchRecord, store storage.Store, n int) {
	ctx := context.Background()
	fs, p := benchProjector(b, store)
	drives := 0
	fs.ResetCounts()
	for i := 0; b.Loop(); i++ {
		applyID := UniqueID(fmt.Sprintf("drive%d", i))
		b.StopTimer()
		if _, err := store.CreateApply(ctx, storage.Apply{ID: applyID, State: string(applystate.Pending)}); err != nil {
			b.Fatal(err)
		}
		for j := range n {
			if _, err := store.CreateOperation(ctx, storage.Operation{ApplyID: applyID, ID: fmt.Sprintf("op%02d", j), Seq: int64(j), Deployment: fmt.Sprintf("d%02d", j), State: string(applystate.Pending)}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		var g errgroup.Group
		for j := range n {
			g.Go(func() error {
				for _, s := range []applystate.State{applystate.Running, applystate.Completed} {
					for {
						_, err := p.Drive(ctx, applyID, []applystate.Task{{OperationID: fmt.Sprintf("op%02d", j), State: s}})
						if errors.Is(err, storage.ErrConflict) {
							continue // attempts exhausted under contention: the caller retries
						}
						if err != nil {
							return err
						}
						break
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		drives += 2 * n
		b.StopTimer()
		if err := explore.CheckApplyProjected(ctx, store, applyID); err != nil {
			b.Fatal(err)
		}
		a, err := store.GetApply(ctx, applyID)
		if err != nil {
			b.Fatal(err)
		}
		if a.State != string(applystate.Completed) {
			b.Fatalf("apply ended %q, want completed", a.State)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(fs.Conflicts())/float64(drives), "conflicts/drive")
	rec.report(b, fs)
}

func benchDrivePoll(b *testing.B, rec *benchRecord, store storage.Store, n int) {
	ctx := context.Background()
	fs, p := benchProjector(b, store)
	plan := applystate.Plan{Apply: storage.Apply{ID: UniqueID("poll")}}
	for j := range n {
		plan.Operations = append(plan.Operations, storage.Operation{ID: fmt.Sprintf("op%04d", j), Seq: int64(j)})
	}
	if _, _, err := p.CreatePlan(ctx, plan); err != nil {
		b.Fatal(err)
	}
	task := []applystate.Task{{OperationID: "op0000", State: applystate.Running}}
	if _, err := p.Drive(ctx, plan.Apply.ID, task); err != nil {
		b.Fatal(err)
	}
	fs.ResetCounts()
	for b.Loop() {
		r, err := p.Drive(ctx, plan.Apply.ID, task)
		if err != nil {
			b.Fatal(err)
		}
		if r.Changed || r.Next != applystate.Proceed {
			b.Fatalf("a routine poll changed the apply or did not proceed: %+v", r)
		}
	}
	rec.report(b, fs)
}

// benchOwnership measures acquiring and renewing an operation's lease
// against a bare UpdateOperation of a row, and the owner's routine poll
// of an apply with 1,000 operations under its lease.
func benchOwnership(b *testing.B, rec *benchRecord, store storage.Store) {
	ctx := context.Background()
	fs, p := benchProjector(b, store)
	plan := applystate.Plan{Apply: storage.Apply{ID: UniqueID("owner")}}
	for j := range 1000 {
		plan.Operations = append(plan.Operations, storage.Operation{ID: fmt.Sprintf("op%04d", j), Seq: int64(j)})
	}
	if _, _, err := p.CreatePlan(ctx, plan); err != nil {
		b.Fatal(err)
	}
	applyID := plan.Apply.ID
	b.Run("acquire", func(b *testing.B) {
		runCounted(b, rec, fs, func() error {
			_, err := p.Acquire(ctx, applyID, "op0001", "bench", time.Minute)
			return err
		})
	})
	lease, err := p.Acquire(ctx, applyID, "op0000", "bench", time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("renew", func(b *testing.B) {
		fs.ResetCounts()
		for b.Loop() {
			if lease, err = p.Renew(ctx, lease, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
		rec.report(b, fs)
	})
	row, err := store.GetOperation(ctx, applyID, "op0002")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("update", func(b *testing.B) {
		fs.ResetCounts()
		for b.Loop() {
			next := row
			next.OwnerUntil = time.Now().UTC().Truncate(time.Microsecond)
			if row, err = fs.UpdateOperation(ctx, next, row.Version); err != nil {
				b.Fatal(err)
			}
		}
		rec.report(b, fs)
	})
	task := []applystate.Task{{OperationID: "op0000", State: applystate.Running}}
	if _, err := p.Drive(ctx, applyID, task, applystate.WithLease(lease)); err != nil {
		b.Fatal(err)
	}
	b.Run("poll", func(b *testing.B) {
		fs.ResetCounts()
		for b.Loop() {
			r, err := p.Drive(ctx, applyID, task, applystate.WithLease(lease))
			if err != nil {
				b.Fatal(err)
			}
			if r.Changed || r.Next != applystate.Proceed {
				b.Fatalf("the owner's routine poll changed the apply or did not proceed: %+v", r)
			}
		}
		rec.report(b, fs)
	})
}

// benchProjector wraps store in a fault store that counts the calls and
// returns it with a Projector over it.
func benchProjector(b *testing.B, store storage.Store) (*FaultStore, *applystate.Projector) {
	b.Helper()
	fs := NewFaultStore(store)
	p, err := applystate.NewProjector(fs, fs)
	if err != nil {
		b.Fatal(err)
	}
	return fs, p
}

// runCounted runs step in b's loop, failing b on its first error, with
// fs's counts reset before and reported after.
func runCounted(b *testing.B, rec *benchRecord, fs *FaultStore, step func() error) {
	b.Helper()
	fs.ResetCounts()
	for b.Loop() {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
	rec.report(b, fs)
}
