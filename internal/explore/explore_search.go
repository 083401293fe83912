package explore

import (
	"container/heap"
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/statefold/statefold/storage"
)

// exStoresEvery is how many schedules the Interleavings area runs on one
// store before it asks newStore for another: a store that returns a new
// one stays small (a store that scans its tables would slow down as every
// schedule leaves its queue behind); a shared store is simply reused.
const exStoresEvery = 128

// exStores returns a provider that calls newStore once per exStoresEvery
// schedules.
func exStores(newStore func() storage.Store) func() storage.Store {
	var mu sync.Mutex
	var cur storage.Store
	n := 0
	return func() storage.Store {
		mu.Lock()
		defer mu.Unlock()
		if n%exStoresEvery == 0 {
			cur = newStore()
		}
		n++
		return cur
	}
}

// exItem is a prefix of choices waiting to run, with what it costs (the
// run extends it with default choices, which cost nothing).
type exItem struct {
	prefix []exChoice
	cost   int
	seq    int
}

// exQueue orders the prefixes by cost, then by when they were found.
type exQueue []*exItem

func (q exQueue) Len() int { return len(q) }
func (q exQueue) Less(i, j int) bool {
	if q[i].cost != q[j].cost {
		return q[i].cost < q[j].cost
	}
	return q[i].seq < q[j].seq
}
func (q exQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *exQueue) Push(x any)   { *q = append(*q, x.(*exItem)) }
func (q *exQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// exExplore is Explore over a scenario. The bounded search runs every
// prefix of choices once, cheapest first: a run with prefix P takes the
// default at every later choice point, and each other allowed option at
// such a point is a new prefix, costing P's cost plus the option's. So
// every schedule within the bounds runs exactly once, level by level.
// Then the random schedules. Both run x.Parallel schedules at once.
func exExplore(ctx context.Context, stores func() storage.Store, sc *exScenario, x Exploration, f OrchestratorFactory, until time.Time) (res ExploreResult, err error) {
	start := time.Now()
	res = ExploreResult{Scenario: sc.name}
	defer func() { res.Elapsed = time.Since(start) }()
	maxViolations := max(x.MaxViolations, 1)
	caps := exCost{pre: x.Preemptions, fault: x.Faults, adv: x.ClockAdvances}
	if !sc.clock {
		caps.adv = 0
	}
	levels := x.Events
	if levels <= 0 || levels > caps.total() {
		levels = caps.total()
	}
	res.PerLevel = make([]int, levels+1)
	var boundedUntil time.Time
	if !until.IsZero() {
		boundedUntil = start.Add(until.Sub(start) * 3 / 4)
	}
	workers := max(x.Parallel, 1)
	var sample *rand.Rand
	if x.MaxSchedules > 0 {
		h := fnv.New64a()
		_, _ = h.Write([]byte(sc.name + sc.doc))
		sample = rand.New(rand.NewPCG(x.Seed, h.Sum64()))
	}

	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		q       = &exQueue{{}}
		seq     = 1
		running int
		stop    bool
		cut     bool
		errs    []error
		seen    = make(map[string]bool)
	)
	// record keeps a violation; it reports whether to stop. Holds mu.
	record := func(r ScheduleResult) bool {
		if r.LateWrite {
			res.LateWrites++
		}
		if r.Violation != nil && !seen[r.Schedule] && len(res.Violations) < maxViolations {
			seen[r.Schedule] = true
			res.Violations = append(res.Violations, r)
		}
		return len(res.Violations) >= maxViolations
	}
	bounded := func() {
		for {
			mu.Lock()
			for q.Len() == 0 && running > 0 && !stop {
				cond.Wait()
			}
			if stop || q.Len() == 0 {
				mu.Unlock()
				return
			}
			if ((*q)[0].cost > 0 && !boundedUntil.IsZero() && time.Now().After(boundedUntil)) || (x.MaxSchedules > 0 && res.Bounded+running >= x.MaxSchedules) {
				stop, cut = true, true
				mu.Unlock()
				cond.Broadcast()
				return
			}
			it := heap.Pop(q).(*exItem)
			running++
			mu.Unlock()

			d := &exDFS{prefix: it.prefix, caps: caps, max: levels, diverged: -1}
			r, err := exRunSchedule(ctx, stores(), sc, d, f, it.cost == 0)
			if err == nil && d.diverged < 0 && len(d.path) < len(it.prefix) {
				d.diverged = len(d.path)
			}
			if err == nil && d.diverged >= 0 {
				err = fmt.Errorf("choice %d did not replay the same way: the scenario is not deterministic", d.diverged)
			}

			mu.Lock()
			running--
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("scenario %s, schedule %q: %w", sc.name, r.Schedule, err))
				stop = true
			default:
				res.Bounded++
				res.PerLevel[it.cost]++
				if record(r) {
					stop, cut = true, true
				}
				for j := len(it.prefix); j < len(d.path); j++ {
					for alt := 1; alt < d.path[j].n; alt++ {
						p := make([]exChoice, j+1)
						copy(p, d.path[:j+1])
						p[j].pick = alt
						order := seq
						if sample != nil {
							// A capped search samples each level: its
							// schedules run in a seeded random order.
							order = sample.IntN(1 << 30)
						}
						heap.Push(q, &exItem{prefix: p, cost: it.cost + d.path[j].costs[alt], seq: order})
						seq++
					}
				}
			}
			mu.Unlock()
			cond.Broadcast()
		}
	}
	exWorkers(workers, bounded)
	res.Complete = !cut && len(errs) == 0 && q.Len() == 0
	if len(errs) > 0 {
		return res, errs[0]
	}
	if len(res.Violations) >= maxViolations {
		return res, nil
	}

	h := fnv.New64a()
	_, _ = h.Write([]byte(sc.name))
	salt := h.Sum64()
	rcaps := exCost{pre: -1, fault: x.Faults + 1, adv: caps.adv}
	next := 0
	random := func() {
		for {
			mu.Lock()
			if next >= x.Random+x.Delays || len(errs) > 0 || len(res.Violations) >= maxViolations || (!until.IsZero() && time.Now().After(until)) {
				mu.Unlock()
				return
			}
			i := next
			next++
			mu.Unlock()
			rng := rand.New(rand.NewPCG(x.Seed, salt+uint64(i)))
			var ch exChooser = &exRandom{rng: rng, caps: rcaps}
			switch {
			case i >= x.Random:
				ch = newDelay(rng, rcaps)
			case x.PCT && i%2 == 1:
				ch = newPCT(rng, rcaps)
			}
			r, err := exRunSchedule(ctx, stores(), sc, ch, f, false)
			mu.Lock()
			if err != nil {
				errs = append(errs, fmt.Errorf("scenario %s, random schedule %q: %w", sc.name, r.Schedule, err))
			} else {
				res.Random++
				record(r)
			}
			mu.Unlock()
		}
	}
	exWorkers(workers, random)
	if x.Holds > 0 && len(errs) == 0 && len(res.Violations) < maxViolations {
		exRunHolds(sc, x.Holds, rand.New(rand.NewPCG(x.Seed, ^salt)), func(ch exChooser) bool {
			r, err := exRunSchedule(ctx, stores(), sc, ch, f, false)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("scenario %s, holds schedule %q: %w", sc.name, r.Schedule, err))
				return true
			}
			res.Random++
			return record(r) || (!until.IsZero() && time.Now().After(until))
		})
	}
	if len(errs) > 0 {
		return res, errs[0]
	}
	return res, nil
}

// exWorkers runs n copies of work and waits for them.
func exWorkers(n int, work func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(work)
	}
	wg.Wait()
}
