// Command mergequeue runs a small merge queue on batchstate: a producer
// enqueues batches, workers move them through a realistic machine, a
// canceller races the workers, a janitor reconciles the membership index
// periodically, and a checker lists the queue continuously to prove that no
// live batch is ever missing from a listing.
//
// The machine:
//
//	created → speculating → merging → succeeded
//	             │  ↑          └──→ failed
//	             │  └ created (requeued after a flaky speculative build)
//	             └──→ failed
//	created / speculating → cancelling → cancelled
//
// Failures are injected on purpose: some creates crash between the
// membership write and the batch write (the producer abandons a few of them,
// leaving dangling rows that Reconcile removes after the grace period), and
// the canceller makes workers lose compare-and-swap races.
//
// Usage:
//
//	go run ./examples/mergequeue [-batches N] [-workers N] [-store memory|mysql|postgres|dynamo] [-dsn DSN] [-endpoint URL]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/examples/internal/exstore"
	"github.com/statefold/statefold/storage"
)

func main() {
	exstore.Main("mergequeue", func(ctx context.Context, w io.Writer, args []string) error {
		_, err := run(ctx, w, args)
		return err
	})
}

// The machine of the queue.
var machine = batchstate.Machine{
	States:   []string{"created", "speculating", "merging", "succeeded", "failed", "cancelling", "cancelled"},
	Terminal: []string{"succeeded", "failed", "cancelled"},
	Transitions: map[string][]string{
		"created":     {"speculating", "cancelling"},
		"speculating": {"merging", "failed", "created", "cancelling"},
		"merging":     {"succeeded", "failed"},
		"cancelling":  {"cancelled"},
	},
}

var live = []string{"created", "speculating", "merging", "cancelling"}

// Report is what a run ends with.
type Report struct {
	Created, Abandoned        int   // batches created; creates abandoned after a crash
	Succeeded, Failed         int   // final states
	Cancelled                 int   //
	Requeued                  int64 // speculating → created moves
	CrashesInjected           int64 // creates that crashed between the two writes
	LostCAS                   int64 // transitions that lost a compare-and-swap
	Reconciles                int64 // periodic Reconcile runs
	RemovedStale, RemovedDang int   // rows removed by the final Reconcile
	Checks                    int64 // batch observations made by the checker
	Misses                    int64 // live batches missing from a listing: must be 0
	IndexRows                 int   // rows left in the live buckets at the end: must be 0
}

// crashingStore crashes every crashEvery-th CreateBatch of a batch before
// it writes — the producer's process dying between its two writes: the
// membership row has been added, the batch has not. Reconcile's tombstones
// (batchstate.Abandoned) are the janitor's writes and do not crash.
type crashingStore struct {
	storage.Store
	crashEvery int64
	creates    atomic.Int64
	crashes    atomic.Int64
}

var errCrash = errors.New("injected crash between the membership write and the batch write")

func (s *crashingStore) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	if b.State != batchstate.Abandoned && s.creates.Add(1)%s.crashEvery == 0 {
		s.crashes.Add(1)
		return storage.Batch{}, errCrash
	}
	return s.Store.CreateBatch(ctx, b)
}

type config struct {
	batches, workers int
	grace, every     time.Duration
	work             time.Duration
	store            exstore.Flags
}

func run(ctx context.Context, w io.Writer, args []string) (Report, error) {
	var cfg config
	fs := flag.NewFlagSet("mergequeue", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mergequeue [flags]\n\n"+
			"Runs a merge queue on batchstate — a producer, workers, a canceller, a janitor\n"+
			"and a checker that lists the queue continuously — with crashes injected, and\n"+
			"reports what happened and that no live batch was ever missing from a listing.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.batches, "batches", 60, "batches to enqueue")
	fs.IntVar(&cfg.workers, "workers", 4, "concurrent workers")
	fs.DurationVar(&cfg.grace, "grace", time.Second, "dangling grace of Reconcile: longer than any create or transition takes on the store")
	fs.DurationVar(&cfg.every, "reconcile-every", 20*time.Millisecond, "period of the janitor's Reconcile")
	fs.DurationVar(&cfg.work, "work", time.Millisecond, "simulated work per step")
	cfg.store.Register(fs)
	if err := fs.Parse(args); err != nil {
		return Report{}, err
	}
	if cfg.batches < 1 || cfg.workers < 1 {
		return Report{}, fmt.Errorf("-batches and -workers must be positive")
	}
	base, closeStore, err := cfg.store.Open(ctx)
	if err != nil {
		return Report{}, err
	}
	defer closeStore()
	store := &crashingStore{Store: base, crashEvery: 7}
	o, err := batchstate.New(store, store, machine, batchstate.WithDanglingGrace(cfg.grace))
	if err != nil {
		return Report{}, err
	}
	q := &queue{o: o, store: store, name: fmt.Sprintf("mq-%d", time.Now().UnixNano())}
	return q.run(ctx, w, cfg)
}

type queue struct {
	o     *batchstate.Orchestrator
	store *crashingStore
	name  string

	mu  sync.Mutex
	ids []string // every id the producer tried to create

	requeued, lostCAS, reconciles, checks, misses atomic.Int64
}

func (q *queue) known() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.ids)
}

func (q *queue) run(ctx context.Context, w io.Writer, cfg config) (Report, error) {
	var rep Report
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fail := func(err error) { cancel(err) }

	var background sync.WaitGroup
	stop := make(chan struct{})
	background.Go(func() { q.checker(ctx, stop, fail) })
	background.Go(func() { q.janitor(ctx, stop, cfg.every, fail) })
	background.Go(func() { q.canceller(ctx, stop, fail) })

	// The producer.
	for i := range cfg.batches {
		id := fmt.Sprintf("pr-%04d", i)
		q.mu.Lock()
		q.ids = append(q.ids, id)
		q.mu.Unlock()
		b := storage.Batch{Queue: q.name, ID: id, State: "created", Payload: []byte(`{"prs":[` + fmt.Sprint(1000+i) + `]}`)}
		_, err := q.o.Create(ctx, b)
		if errors.Is(err, errCrash) {
			if i%2 == 0 { // the producer crashed too: abandoned, a dangling row is left
				rep.Abandoned++
				continue
			}
			_, err = q.o.Create(ctx, b) // the producer retries the same id
		}
		if err != nil {
			fail(fmt.Errorf("create %s: %w", id, err))
			break
		}
		rep.Created++
	}

	// The workers drain the queue.
	var workers sync.WaitGroup
	for n := range cfg.workers {
		workers.Go(func() { q.worker(ctx, n, cfg.work, fail) })
	}
	workers.Wait()
	close(stop)
	background.Wait()
	if err := context.Cause(ctx); err != nil {
		return rep, err
	}

	// Final: wait out the grace, reconcile, and count what is left.
	time.Sleep(cfg.grace + 10*time.Millisecond)
	rr, err := q.o.Reconcile(ctx, q.name)
	if err != nil {
		return rep, err
	}
	rep.RemovedStale, rep.RemovedDang = rr.RemovedStale, rr.RemovedDangling
	for _, s := range live {
		rows, err := q.store.ListMembers(ctx, q.name, s)
		if err != nil {
			return rep, err
		}
		rep.IndexRows += len(rows)
	}
	for _, id := range q.known() {
		b, err := q.store.GetBatch(ctx, q.name, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return rep, err
		}
		switch b.State {
		case "succeeded":
			rep.Succeeded++
		case "failed":
			rep.Failed++
		case "cancelled":
			rep.Cancelled++
		case batchstate.Abandoned:
			// A create the producer gave up on: Reconcile fenced it off
			// with a tombstone, so it can never appear late.
		default:
			return rep, fmt.Errorf("batch %s left in %q", id, b.State)
		}
	}
	rep.Requeued, rep.LostCAS = q.requeued.Load(), q.lostCAS.Load()
	rep.Reconciles, rep.Checks, rep.Misses = q.reconciles.Load(), q.checks.Load(), q.misses.Load()
	rep.CrashesInjected = q.store.crashes.Load()

	fmt.Fprintf(w, "queue %s\n", q.name)
	fmt.Fprintf(w, "created:    %d batches; %d creates crashed between the index write and the batch write\n"+
		"            (the producer retried half of them with the same id; it gave up on %d, whose\n"+
		"            ids Reconcile fenced off with a tombstone so that they can never appear late)\n",
		rep.Created, rep.CrashesInjected, rep.Abandoned)
	fmt.Fprintf(w, "outcomes:   %d succeeded, %d failed, %d cancelled; %d times a flaky speculative\n"+
		"            build sent a batch back to created\n", rep.Succeeded, rep.Failed, rep.Cancelled, rep.Requeued)
	fmt.Fprintf(w, "races:      %d transitions lost a compare-and-swap to the canceller or another\n"+
		"            worker, re-read the batch and decided again (nothing was overwritten)\n", rep.LostCAS)
	fmt.Fprintf(w, "janitor:    %d periodic Reconciles; the final one removed %d rows of batches that\n"+
		"            had moved on and %d rows of creates that never landed\n", rep.Reconciles, rep.RemovedStale, rep.RemovedDang)
	fmt.Fprintf(w, "checker:    %d times it saw a live batch stay put across a listing; %d times the\n"+
		"            listing missed it (must be 0)\n", rep.Checks, rep.Misses)
	fmt.Fprintf(w, "index:      %d rows left in the live buckets once every batch is final (must be 0)\n", rep.IndexRows)
	if rep.Misses != 0 || rep.IndexRows != 0 {
		return rep, fmt.Errorf("invariant violated: %d misses, %d rows left", rep.Misses, rep.IndexRows)
	}
	return rep, nil
}

// worker claims created batches and moves them on until none is left.
func (q *queue) worker(ctx context.Context, n int, work time.Duration, fail func(error)) {
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	for ctx.Err() == nil {
		batches, err := q.o.List(ctx, q.name, live...)
		if err != nil {
			fail(fmt.Errorf("worker %d: list: %w", n, err))
			return
		}
		if len(batches) == 0 {
			// A listing is not a snapshot across states: a batch moving
			// between two of them while List runs may be missed by that
			// call. Before stopping, make sure nothing is live.
			if done, err := q.drained(ctx); err != nil {
				fail(fmt.Errorf("worker %d: %w", n, err))
				return
			} else if done {
				return
			}
			time.Sleep(work)
			continue
		}
		b := batches[rng.IntN(len(batches))]
		time.Sleep(work) // build, test, merge…
		var to string
		switch b.State {
		case "created":
			to = "speculating"
		case "speculating":
			switch r := rng.IntN(10); {
			case r < 7:
				to = "merging"
			case r < 8:
				to = "failed"
			default:
				to = "created"
			}
		case "merging":
			to = "succeeded"
			if rng.IntN(10) == 0 {
				to = "failed"
			}
		case "cancelling":
			to = "cancelled"
		}
		_, err = q.o.Transition(ctx, b, to)
		switch {
		case errors.Is(err, storage.ErrConflict):
			q.lostCAS.Add(1) // someone else moved it first; list again
		case err != nil:
			fail(fmt.Errorf("worker %d: %s → %s: %w", n, b.ID, to, err))
			return
		case to == "created":
			q.requeued.Add(1)
		}
	}
}

// drained reports whether every batch the producer created is terminal.
func (q *queue) drained(ctx context.Context) (bool, error) {
	bs, err := q.store.GetBatches(ctx, q.name, q.known())
	if err != nil {
		return false, err
	}
	for _, b := range bs {
		if slices.Contains(live, b.State) {
			return false, nil
		}
	}
	return true, nil
}

// every runs step each period until stop closes or the context ends; a
// step error is reported through fail (named after who) and ends the loop.
func every(ctx context.Context, stop <-chan struct{}, period time.Duration, who string, fail func(error), step func() error) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := step(); err != nil {
			fail(fmt.Errorf("%s: %w", who, err))
			return
		}
	}
}

// canceller cancels a random created or speculating batch now and then,
// racing the workers for it.
func (q *queue) canceller(ctx context.Context, stop <-chan struct{}, fail func(error)) {
	rng := rand.New(rand.NewPCG(7, 7))
	every(ctx, stop, 3*time.Millisecond, "canceller", fail, func() error {
		batches, err := q.o.List(ctx, q.name, "created", "speculating")
		if err != nil || len(batches) == 0 || rng.IntN(3) != 0 {
			return err
		}
		_, err = q.o.Transition(ctx, batches[rng.IntN(len(batches))], "cancelling")
		if errors.Is(err, storage.ErrConflict) {
			q.lostCAS.Add(1)
			return nil
		}
		return err
	})
}

// janitor runs Reconcile periodically.
func (q *queue) janitor(ctx context.Context, stop <-chan struct{}, period time.Duration, fail func(error)) {
	every(ctx, stop, period, "janitor", fail, func() error {
		_, err := q.o.Reconcile(ctx, q.name)
		q.reconciles.Add(1)
		return err
	})
}

// checker proves invariant I while everything runs: a batch read in a live
// state S before a listing and read again, unchanged, after it was stored
// in S for the whole listing, so the listing must contain it under S.
func (q *queue) checker(ctx context.Context, stop <-chan struct{}, fail func(error)) {
	every(ctx, stop, time.Millisecond, "checker", fail, func() error {
		ids := q.known()
		before, err := q.store.GetBatches(ctx, q.name, ids)
		if err != nil {
			return err
		}
		listed, err := q.o.List(ctx, q.name, live...)
		if err != nil {
			return err
		}
		after, err := q.store.GetBatches(ctx, q.name, ids)
		if err != nil {
			return err
		}
		in := make(map[string]string, len(listed))
		for _, b := range listed {
			in[b.ID] = b.State
		}
		now := make(map[string]storage.Batch, len(after))
		for _, b := range after {
			now[b.ID] = b
		}
		for _, b := range before {
			a, ok := now[b.ID]
			if !ok || a.Version != b.Version || !slices.Contains(live, b.State) {
				continue // it moved during the listing, or is not live
			}
			q.checks.Add(1)
			if in[b.ID] != b.State {
				q.misses.Add(1)
			}
		}
		return nil
	})
}
