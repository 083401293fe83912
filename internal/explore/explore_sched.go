package explore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/faultstore"
)

// exStall is how long the scheduler waits for an actor to reach its next
// store call or return; code between two store calls is expected to take
// microseconds.
const exStall = 30 * time.Second

// exGrace is the dangling grace of every orchestrator in the explorer; a
// clock advance jumps one minute past it.
const exGrace = 10 * time.Minute

// exFault is what happens to the call picked for a step.
type exFault int

const (
	exNoFault      exFault = iota // the call runs and returns its result
	exFailBefore                  // the call returns an error without running
	exLostResponse                // the call runs, then returns an error
)

var exFaultTokens = [...]string{exNoFault: "", exFailBefore: "!", exLostResponse: "~"}

// exCost counts what a schedule spent of its bounds.
type exCost struct{ pre, fault, adv int }

func (c exCost) add(d exCost) exCost { return exCost{c.pre + d.pre, c.fault + d.fault, c.adv + d.adv} }
func (c exCost) total() int          { return c.pre + c.fault + c.adv }

// exPointKind is the kind of a choice point.
type exPointKind int

const (
	exPointClock exPointKind = iota // advance the clock before the step?
	exPointActor                    // whose call runs?
	exPointFault                    // does the call (a write) fail?
)

// exOpt is one option of a choice point: its token in the schedule string
// and what it costs. Option 0 is the default and costs nothing.
type exOpt struct {
	tok  string
	cost exCost
}

// exChooser makes the choices of one schedule.
type exChooser interface {
	pick(kind exPointKind, opts []exOpt, used exCost) (int, error)
	// finish reports choices the chooser was told to make and could not.
	finish() error
}

// exChoice is one recorded choice point of the bounded search: how many
// options were allowed, which was taken, and what each costs in all.
type exChoice struct {
	n, pick int
	costs   []int
}

// exDFS replays a forced prefix of choices, then takes the default, and
// records every choice point with more than one allowed option: an option
// is allowed if the schedule stays within caps and spends at most max in
// all.
type exDFS struct {
	prefix   []exChoice
	path     []exChoice
	caps     exCost
	max      int
	used     exCost
	diverged int // the first choice that did not replay as recorded, or -1
}

func (d *exDFS) pick(_ exPointKind, opts []exOpt, used exCost) (int, error) {
	allowed := make([]int, 0, len(opts))
	for i, o := range opts {
		c := used.add(o.cost)
		if c.pre <= d.caps.pre && c.fault <= d.caps.fault && c.adv <= d.caps.adv && c.total() <= d.max {
			allowed = append(allowed, i)
		}
	}
	if len(allowed) <= 1 {
		return 0, nil
	}
	k, i := len(d.path), 0
	if k < len(d.prefix) {
		i = d.prefix[k].pick
		if d.prefix[k].n != len(allowed) && d.diverged < 0 {
			d.diverged = k
		}
		i = min(i, len(allowed)-1)
	}
	costs := make([]int, len(allowed))
	for j, a := range allowed {
		costs[j] = opts[a].cost.total()
	}
	d.path = append(d.path, exChoice{n: len(allowed), pick: i, costs: costs})
	d.used = d.used.add(opts[allowed[i]].cost)
	return allowed[i], nil
}

func (d *exDFS) finish() error { return nil }

// exRandom picks uniformly among the actors (any preemption), jumps the
// clock with probability 1/16 and faults a write with probability 1/8,
// within its caps (a negative cap is no cap).
type exRandom struct {
	rng  *rand.Rand
	caps exCost
}

func (r *exRandom) pick(kind exPointKind, opts []exOpt, used exCost) (int, error) {
	allowed := make([]int, 0, len(opts))
	for i, o := range opts {
		c := used.add(o.cost)
		if (r.caps.pre < 0 || c.pre <= r.caps.pre) && c.fault <= r.caps.fault && c.adv <= r.caps.adv {
			allowed = append(allowed, i)
		}
	}
	if len(allowed) <= 1 {
		return 0, nil
	}
	switch kind {
	case exPointClock:
		if r.rng.IntN(16) == 0 {
			return allowed[1], nil
		}
		return 0, nil
	case exPointFault:
		if r.rng.IntN(8) == 0 {
			return allowed[1+r.rng.IntN(len(allowed)-1)], nil
		}
		return 0, nil
	}
	return allowed[r.rng.IntN(len(allowed))], nil
}

func (r *exRandom) finish() error { return nil }

// exPCT schedules by random priorities (probabilistic concurrency
// testing): the pending actor of highest priority runs; at each of one to
// three change points, drawn among the first 64 steps, the actor about to run
// drops below every other. A bug that needs an actor held back while the
// others run several calls is found far more often than by uniform picks.
// Clock jumps and faults as exRandom.
type exPCT struct {
	exRandom
	prio    map[string]int
	changes map[int]bool
	steps   int
	low     int
}

func newPCT(rng *rand.Rand, caps exCost) *exPCT {
	p := &exPCT{exRandom: exRandom{rng: rng, caps: caps}, prio: map[string]int{}, changes: map[int]bool{}}
	for range 1 + rng.IntN(3) {
		p.changes[1+rng.IntN(64)] = true
	}
	return p
}

func (p *exPCT) pick(kind exPointKind, opts []exOpt, used exCost) (int, error) {
	if kind != exPointActor {
		return p.exRandom.pick(kind, opts, used)
	}
	p.steps++
	best := func() int {
		b := -1
		for i, o := range opts {
			if _, ok := p.prio[o.tok]; !ok {
				p.prio[o.tok] = 1000 + p.rng.IntN(1000)
			}
			if b < 0 || p.prio[o.tok] > p.prio[opts[b].tok] {
				b = i
			}
		}
		return b
	}
	i := best()
	if p.changes[p.steps] && len(opts) > 1 {
		p.low--
		p.prio[opts[i].tok] = p.low
		i = best()
	}
	return i, nil
}

// exDelay holds one actor back at one of its writes while the others make
// a few whole calls, then lets it go first: the shape of a stale
// compare-and-swap — a write computed from reads that another caller's
// complete call has made old meanwhile — which uniform picks and random
// priorities rarely make when the held write is deep in the run. The
// actor (the victim), the write (its k-th, 1 to 12) and how many calls of
// the others it waits for (1 to 3) are drawn at random; the victim runs
// first until it is held, the others by random priorities. Clock jumps
// and faults as exRandom.
type exDelay struct {
	exRandom
	s        *exSchedule
	victim   string
	k, wait  int
	writes   int
	held     bool
	released bool
	base     int // the others' calls when the victim was held
	prio     map[string]int
}

func newDelay(rng *rand.Rand, caps exCost) *exDelay {
	return &exDelay{exRandom: exRandom{rng: rng, caps: caps}, k: 1 + rng.IntN(12), wait: 1 + rng.IntN(3), prio: map[string]int{}}
}

func (d *exDelay) bind(s *exSchedule) { d.s = s }

// others counts the calls the actors other than the victim have made.
func (d *exDelay) others() int {
	n := 0
	for _, a := range d.s.actors {
		if a.letter != d.victim {
			n += len(a.env.gen) + len(a.env.lists) + len(a.env.creates)
		}
	}
	return n
}

func (d *exDelay) pick(kind exPointKind, opts []exOpt, used exCost) (int, error) {
	if kind != exPointActor {
		return d.exRandom.pick(kind, opts, used)
	}
	if d.victim == "" {
		d.victim = opts[d.rng.IntN(len(opts))].tok
	}
	v := slices.IndexFunc(opts, func(o exOpt) bool { return o.tok == d.victim })
	switch {
	case v < 0:
	case d.released, len(opts) == 1:
		return v, nil
	case d.held:
		if d.others()-d.base >= d.wait {
			d.held, d.released = false, true
			return v, nil
		}
	default:
		a := d.s.actors[d.victim[0]-'a']
		if !a.pending.method.IsWrite() {
			return v, nil
		}
		if d.writes++; d.writes < d.k {
			return v, nil
		}
		d.held, d.base = true, d.others()
	}
	best := -1
	for i, o := range opts {
		if i == v {
			continue
		}
		if _, ok := d.prio[o.tok]; !ok {
			d.prio[o.tok] = d.rng.IntN(1 << 20)
		}
		if best < 0 || d.prio[o.tok] > d.prio[opts[best].tok] {
			best = i
		}
	}
	return best, nil
}

// exToken is one parsed token of a schedule string.
type exToken struct {
	clock bool
	actor string
	fault string
}

// exReplay follows a schedule string; past its end it takes the defaults.
type exReplay struct {
	// lenient skips the steps the actors no longer make (a schedule
	// printed before the code changed): a token naming an actor with no
	// call pending, a fault on a read, tokens left over.
	lenient bool
	toks    []exToken
	next    int
	fault   string // the fault of the step just picked, for its fault point
	steps   int
}

func exParseSchedule(s string) (*exReplay, error) {
	r := &exReplay{}
	for _, f := range strings.Fields(s) {
		if f == "+t" {
			r.toks = append(r.toks, exToken{clock: true})
			continue
		}
		tok := exToken{actor: f[:1], fault: f[1:]}
		if tok.actor < "a" || tok.actor > "z" || (tok.fault != "" && tok.fault != "!" && tok.fault != "~") {
			return nil, fmt.Errorf("storagetest: schedule %q: bad step %q (want an actor letter, optionally followed by ! or ~, or +t)", s, f)
		}
		r.toks = append(r.toks, tok)
	}
	return r, nil
}

func (r *exReplay) pick(kind exPointKind, opts []exOpt, _ exCost) (int, error) {
	switch kind {
	case exPointClock:
		if r.next < len(r.toks) && r.toks[r.next].clock {
			r.next++
			return 1, nil
		}
		return 0, nil
	case exPointFault:
		f := r.fault
		r.fault = ""
		for i, o := range opts {
			if o.tok == f {
				return i, nil
			}
		}
		return 0, fmt.Errorf("step %d: no fault %q", r.steps, f)
	}
	if r.fault != "" && r.lenient {
		r.fault = ""
	}
	if r.fault != "" {
		return 0, fmt.Errorf("step %d: a fault on a read (only writes fail)", r.steps)
	}
	r.steps++
	if r.next >= len(r.toks) {
		return 0, nil
	}
	t := r.toks[r.next]
	for i, o := range opts {
		if o.tok == t.actor {
			r.next++
			r.fault = t.fault
			return i, nil
		}
	}
	if r.lenient {
		r.next++
		return 0, nil
	}
	pending := make([]string, len(opts))
	for i, o := range opts {
		pending[i] = o.tok
	}
	return 0, fmt.Errorf("step %d: actor %s has no call pending (pending: %s)", r.steps, t.actor, strings.Join(pending, " "))
}

func (r *exReplay) finish() error {
	if r.lenient {
		return nil
	}
	if r.fault != "" {
		return fmt.Errorf("step %d: a fault on a read (only writes fail)", r.steps)
	}
	if r.next < len(r.toks) {
		return fmt.Errorf("the actors returned after %d steps; %d tokens left over", r.steps, len(r.toks)-r.next)
	}
	return nil
}

// exClockStart is when the clock of every schedule starts: every reading
// of it is later.
var exClockStart = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// exClock is the virtual clock of one schedule: every reading advances it
// by a millisecond, so readings are distinct and increasing.
type exClock struct {
	mu    sync.Mutex
	now   time.Time
	jumps int // the advances so far
}

func (c *exClock) read(skew time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now.Add(skew)
}

func (c *exClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.jumps++
	c.mu.Unlock()
}

// reader returns an actor's clock: the schedule's, skewed by skew; with
// still, one that stands still between the schedule's clock jumps (it
// reads the schedule's clock again only after an advance), as a coarse
// clock does.
func (c *exClock) reader(skew time.Duration, still bool) func() time.Time {
	if !still {
		return func() time.Time { return c.read(skew) }
	}
	var (
		mu   sync.Mutex
		at   time.Time
		seen = -1
	)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		c.mu.Lock()
		jumps := c.jumps
		c.mu.Unlock()
		if jumps != seen {
			at, seen = c.read(skew), jumps
		}
		return at
	}
}

// exCall is one store call an actor announced and waits to have run.
type exCall struct {
	method faultstore.Method
	desc   string
	batch  string // the id of the batch a write targets
	bucket string // the state of the bucket a write targets
	bound  int64  // a RemoveMember's maxVersion
	// run performs the call on the real store, stores its result where the
	// actor reads it, and says what it returned.
	run   func() (note string, err error)
	reply chan error // nil, or the injected error to return instead
	step  int        // the step number, set before the reply
}

// exStepRec is one step as run: whose call, whether it ran (was not failed
// before it ran) and, for a write, whether it landed, and how many clock
// jumps came before it.
type exStepRec struct {
	actor       *exActor
	call        *exCall
	ran, landed bool
	jumps       int
}

// exEvent is what an actor tells the scheduler: a call it waits at, or
// (call nil) that it returned.
type exEvent struct {
	call *exCall
	err  error
}

// exActor is one running actor of a schedule.
type exActor struct {
	spec    *exActorSpec
	letter  string
	events  chan exEvent
	pending *exCall
	done    bool
	err     error
	store   *exStore
	env     *exEnv
}

// exStore is the store one actor sees: every call waits for the scheduler.
type exStore struct {
	s        *exSchedule
	a        *exActor
	inner    storage.Store
	inflight atomic.Int32
	// limit, when positive, crashes the actor at its limit-th call: that
	// call and every later one fail with errGenCrash without reaching the
	// store or the scheduler.
	limit, made int

	mu    sync.Mutex
	steps []int // the step number of every call, in order
	// stamps are the UpdatedAt of every apply write the actor made, in
	// order (failed and crashed ones included).
	stamps []time.Time
}

var _ storage.Store = (*exStore)(nil)

// do announces c and waits until the scheduler ran it (or failed it).
func (x *exStore) do(ctx context.Context, c *exCall) error {
	if x.limit > 0 {
		if x.made++; x.made >= x.limit {
			return errGenCrash
		}
	}
	if x.inflight.Add(1) > 1 {
		x.s.concurrent.Store(true)
	}
	defer x.inflight.Add(-1)
	c.reply = make(chan error, 1)
	select {
	case x.a.events <- exEvent{call: c}:
	case <-x.s.ctx.Done():
		return x.s.ctx.Err()
	}
	select {
	case err := <-c.reply:
		x.mu.Lock()
		x.steps = append(x.steps, c.step)
		x.mu.Unlock()
		return err
	case <-x.s.ctx.Done():
		return x.s.ctx.Err()
	}
}

// calls returns the steps of the calls made so far.
func (x *exStore) calls() []int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.steps)
}

func exNote(err error, ok string) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return ok
}

// exRun runs c through the scheduler: its step calls call on the real
// store and notes the result with note. The actor gets call's result, or
// the zero value and the injected error when the step failed the call.
func exRun[T any](ctx context.Context, x *exStore, c *exCall, call func() (T, error), note func(T) string) (T, error) {
	var out T
	var err error
	c.run = func() (string, error) {
		out, err = call()
		return exNote(err, note(out)), err
	}
	if ierr := x.do(ctx, c); ierr != nil {
		var zero T
		return zero, ierr
	}
	return out, err
}

// exec runs a call of c that returns only an error through the scheduler,
// noted ok when it succeeds.
func (x *exStore) exec(ctx context.Context, c *exCall, ok string, call func() error) error {
	_, err := exRun(ctx, x, c, func() (struct{}, error) { return struct{}{}, call() }, func(struct{}) string { return ok })
	return err
}

// exStored is a stored row a call returns: a batch, an apply or an operation.
type exStored interface {
	storage.Batch | storage.Apply | storage.Operation
}

// exStateVersion returns the state and version of r.
func exStateVersion[T exStored](r T) (string, int64) {
	switch r := any(r).(type) {
	case storage.Batch:
		return r.State, r.Version
	case storage.Apply:
		return r.State, r.Version
	case storage.Operation:
		return r.State, r.Version
	}
	panic("unreachable")
}

// exWritten notes the row a write returned: its version.
func exWritten[T exStored](r T) string {
	_, v := exStateVersion(r)
	return fmt.Sprintf("v%d", v)
}

// exRead notes the row a read returned: its state and version.
func exRead[T exStored](r T) string {
	st, v := exStateVersion(r)
	return fmt.Sprintf("%s v%d", st, v)
}

// exSorted returns call's rows sorted by key, so that a trace (and what
// the actor sees) does not depend on the store's order.
func exSorted[T any](call func() ([]T, error), key func(T) string) func() ([]T, error) {
	return func() ([]T, error) {
		out, err := call()
		slices.SortFunc(out, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
		return out, err
	}
}

func (x *exStore) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	c := &exCall{method: faultstore.CreateBatch, desc: fmt.Sprintf("CreateBatch(%s %s)", exID(b.ID), b.State), batch: b.ID}
	return exRun(ctx, x, c, func() (storage.Batch, error) { return x.inner.CreateBatch(ctx, b) }, exWritten)
}

func (x *exStore) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	c := &exCall{method: faultstore.GetBatch, desc: fmt.Sprintf("GetBatch(%s)", exID(id))}
	return exRun(ctx, x, c, func() (storage.Batch, error) { return x.inner.GetBatch(ctx, queue, id) }, exRead)
}

func (x *exStore) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	named := make([]string, len(ids))
	for i, id := range ids {
		named[i] = exID(id)
	}
	c := &exCall{method: faultstore.GetBatches, desc: fmt.Sprintf("GetBatches(%s)", strings.Join(named, " "))}
	call := func() ([]storage.Batch, error) { return x.inner.GetBatches(ctx, queue, ids) }
	return exRun(ctx, x, c, exSorted(call, func(b storage.Batch) string { return b.ID }), func(out []storage.Batch) string {
		got := make([]string, len(out))
		for i, b := range out {
			got[i] = fmt.Sprintf("%s:%s:v%d", exID(b.ID), b.State, b.Version)
		}
		return "[" + strings.Join(got, " ") + "]"
	})
}

func (x *exStore) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64, expectedState string) (storage.Batch, error) {
	c := &exCall{method: faultstore.UpdateBatch, batch: b.ID,
		desc: fmt.Sprintf("UpdateBatch(%s %s v%d → %s)", exID(b.ID), expectedState, expectedVersion, b.State)}
	return exRun(ctx, x, c, func() (storage.Batch, error) { return x.inner.UpdateBatch(ctx, b, expectedVersion, expectedState) }, exWritten)
}

func (x *exStore) AddMember(ctx context.Context, m storage.Member) error {
	return x.exec(ctx, &exCall{method: faultstore.AddMember, bucket: m.State,
		desc: fmt.Sprintf("AddMember(%s %s v%d)", m.State, exID(m.BatchID), m.Version)},
		"ok", func() error { return x.inner.AddMember(ctx, m) })
}

func (x *exStore) RemoveMember(ctx context.Context, queue, state, batchID string, maxVersion int64) error {
	return x.exec(ctx, &exCall{method: faultstore.RemoveMember, bucket: state, bound: maxVersion,
		desc: fmt.Sprintf("RemoveMember(%s %s ≤v%s)", state, exID(batchID), exVersion(maxVersion))},
		"ok", func() error { return x.inner.RemoveMember(ctx, queue, state, batchID, maxVersion) })
}

func (x *exStore) ListMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	c := &exCall{method: faultstore.ListMembers, desc: fmt.Sprintf("ListMembers(%s)", state)}
	call := func() ([]storage.Member, error) { return x.inner.ListMembers(ctx, queue, state) }
	return exRun(ctx, x, c, exSorted(call, func(m storage.Member) string { return m.BatchID }), func(out []storage.Member) string {
		got := make([]string, len(out))
		for i, m := range out {
			got[i] = fmt.Sprintf("%s:v%d", exID(m.BatchID), m.Version)
		}
		return "[" + strings.Join(got, " ") + "]"
	})
}

func (x *exStore) CreateApply(ctx context.Context, a storage.Apply) (storage.Apply, error) {
	c := &exCall{method: faultstore.CreateApply, desc: fmt.Sprintf("CreateApply(%s %s)", a.ID, a.State)}
	return exRun(ctx, x, c, func() (storage.Apply, error) { return x.inner.CreateApply(ctx, a) }, exWritten)
}

func (x *exStore) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	c := &exCall{method: faultstore.GetApply, desc: fmt.Sprintf("GetApply(%s)", id)}
	return exRun(ctx, x, c, func() (storage.Apply, error) { return x.inner.GetApply(ctx, id) }, exRead)
}

func (x *exStore) UpdateApply(ctx context.Context, a storage.Apply, expectedVersion int64) (storage.Apply, error) {
	x.mu.Lock()
	x.stamps = append(x.stamps, a.UpdatedAt)
	x.mu.Unlock()
	c := &exCall{method: faultstore.UpdateApply, desc: fmt.Sprintf("UpdateApply(%s v%d → %s)", a.ID, expectedVersion, a.State)}
	return exRun(ctx, x, c, func() (storage.Apply, error) { return x.inner.UpdateApply(ctx, a, expectedVersion) }, exWritten)
}

func (x *exStore) CreateOperation(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	c := &exCall{method: faultstore.CreateOperation, desc: fmt.Sprintf("CreateOperation(%s/%s %s)", op.ApplyID, op.ID, op.State)}
	return exRun(ctx, x, c, func() (storage.Operation, error) { return x.inner.CreateOperation(ctx, op) }, exWritten)
}

func (x *exStore) GetOperation(ctx context.Context, applyID, id string) (storage.Operation, error) {
	c := &exCall{method: faultstore.GetOperation, desc: fmt.Sprintf("GetOperation(%s/%s)", applyID, id)}
	return exRun(ctx, x, c, func() (storage.Operation, error) { return x.inner.GetOperation(ctx, applyID, id) }, exRead)
}

func (x *exStore) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	c := &exCall{method: faultstore.ListOperations, desc: fmt.Sprintf("ListOperations(%s)", applyID)}
	call := func() ([]storage.Operation, error) { return x.inner.ListOperations(ctx, applyID) }
	return exRun(ctx, x, c, exSorted(call, func(op storage.Operation) string { return op.ID }), func(out []storage.Operation) string {
		return fmt.Sprintf("%d operations", len(out))
	})
}

func (x *exStore) UpdateOperation(ctx context.Context, op storage.Operation, expectedVersion int64) (storage.Operation, error) {
	c := &exCall{method: faultstore.UpdateOperation, desc: fmt.Sprintf("UpdateOperation(%s/%s v%d → %s)", op.ApplyID, op.ID, expectedVersion, op.State)}
	return exRun(ctx, x, c, func() (storage.Operation, error) { return x.inner.UpdateOperation(ctx, op, expectedVersion) }, exWritten)
}

// exID names a batch id in traces: the lease row by a short name.
func exID(id string) string {
	if id == batchstate.LeaseID {
		return "<lease>"
	}
	return id
}

func exVersion(v int64) string {
	if v > 1<<60 {
		return "∞"
	}
	return fmt.Sprint(v)
}

// exLog is the log of one schedule: the orchestrators' records, in order.
type exLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *exLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *exLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *exLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// exSchedule is one run of a scenario under one chooser.
type exSchedule struct {
	ctx context.Context
	sc  *exScenario
	raw storage.Store // setup and checks
	// actorRaw is what the actors' calls go to: raw, or another handle
	// on the same data ([ExploreWith]).
	actorRaw storage.Store
	queue    string
	clock    *exClock
	ch       exChooser
	factory  OrchestratorFactory
	log      *exLog
	verify   bool
	// paired: the actors' calls go to another handle (see [ExploreWith]);
	// late: a write landed after the last step.
	paired, late bool

	actors     []*exActor
	wg         sync.WaitGroup
	concurrent atomic.Bool

	used   exCost
	jumps  int         // clock jumps so far
	done   []exStepRec // the steps run, in order
	tokens []string
	trace  []string
	hist   []exSnap // hist[k] is the store after step k; hist[0] before any
	errs   []error  // violations
}

// exRunSchedule runs sc once under ch and checks it.
// With verify (always through another handle), it also reads the whole
// store back after the last step and compares it with what the steps read
// back one by one.
func exRunSchedule(ctx context.Context, store storage.Store, sc *exScenario, ch exChooser, f OrchestratorFactory, verify bool) (ScheduleResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &exSchedule{ctx: ctx, sc: sc, raw: store, actorRaw: store, queue: UniqueID("ex-" + sc.name), ch: ch, factory: f, log: &exLog{}, verify: verify,
		clock: &exClock{now: exClockStart}}
	if p, ok := store.(exPair); ok {
		// Through another handle a write can land after its call
		// returned: every schedule reads the store again at its end.
		s.raw, s.actorRaw, s.paired, s.verify = p.Store, p.actors, true, true
	}
	if b, ok := ch.(interface{ bind(*exSchedule) }); ok {
		b.bind(s)
	}
	err := s.run()
	cancel()
	s.wg.Wait()
	res := ScheduleResult{Scenario: sc.name, Schedule: strings.Join(s.tokens, " "), Violation: errors.Join(s.errs...), LateWrite: s.late}
	res.Trace = strings.Join(s.trace, "\n") + "\n--- orchestrator logs:\n" + s.log.String()
	return res, err
}

func (s *exSchedule) violation(format string, args ...any) {
	s.errs = append(s.errs, fmt.Errorf(format, args...))
}

func (s *exSchedule) run() error {
	setup := &exSetup{ctx: s.ctx, store: s.raw, queue: s.queue, clock: s.clock, batches: make(map[string]storage.Batch)}
	var err error
	switch {
	case s.sc.gen != nil:
		err = setup.setupGen(s.sc.gen, s.queue)
	case s.sc.apply != nil:
		err = setup.setupApply(s.sc.apply, s.queue)
	default:
		err = s.sc.setup(setup)
	}
	if v := (*seedViolation)(nil); errors.As(err, &v) {
		s.violation("%v", v)
		return nil
	} else if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	snap, err := s.snapshot()
	if err != nil {
		return err
	}
	s.hist = append(s.hist, snap)
	for i, spec := range s.sc.actors {
		a := &exActor{spec: spec, letter: string(rune('a' + i)), events: make(chan exEvent)}
		a.store = &exStore{s: s, a: a, inner: s.actorRaw, limit: spec.crash}
		a.env = &exEnv{store: a.store, queue: s.queue, setup: setup.batches, spec: s.sc.apply, letter: a.letter, machine: s.sc.mach()}
		s.actors = append(s.actors, a)
		s.start(a)
		if err := s.await(a); err != nil {
			return err
		}
	}
	last := -1
	for {
		var pending []int
		for i, a := range s.actors {
			if a.pending != nil {
				pending = append(pending, i)
			}
		}
		if len(pending) == 0 {
			break
		}
		i, err := s.ch.pick(exPointClock, []exOpt{{}, {tok: "+t", cost: exCost{adv: 1}}}, s.used)
		if err != nil {
			return err
		}
		if i == 1 {
			s.jumps++
			s.used.adv++
			s.clock.advance(exGrace + time.Minute)
			s.tokens = append(s.tokens, "+t")
			s.trace = append(s.trace, fmt.Sprintf("    +t  the clock jumps %s", exGrace+time.Minute))
		}
		lastPending := last >= 0 && s.actors[last].pending != nil
		order := pending
		if lastPending {
			order = append([]int{last}, slices.DeleteFunc(slices.Clone(pending), func(p int) bool { return p == last })...)
		}
		opts := make([]exOpt, len(order))
		for k, p := range order {
			opts[k].tok = s.actors[p].letter
			if lastPending && p != last {
				opts[k].cost.pre = 1
			}
		}
		k, err := s.ch.pick(exPointActor, opts, s.used)
		if err != nil {
			return err
		}
		s.used = s.used.add(opts[k].cost)
		a := s.actors[order[k]]
		fault := exNoFault
		if a.pending.method.IsWrite() {
			fopts := []exOpt{{}, {tok: "!", cost: exCost{fault: 1}}, {tok: "~", cost: exCost{fault: 1}}}
			fi, err := s.ch.pick(exPointFault, fopts, s.used)
			if err != nil {
				return err
			}
			fault = exFault(fi)
			s.used = s.used.add(fopts[fi].cost)
		}
		if err := s.step(a, fault); err != nil {
			return err
		}
		last = order[k]
		if err := s.await(a); err != nil {
			return err
		}
		if s.concurrent.Load() {
			return fmt.Errorf("actor %s made two store calls at once: its orchestrator must read one bucket at a time (batchstate.WithListConcurrency(1))", a.letter)
		}
	}
	if err := s.ch.finish(); err != nil {
		return err
	}
	return s.finalChecks()
}

// start runs the actor in its own goroutine; it builds its orchestrator
// there too, so that any store call it makes is a step.
func (s *exSchedule) start(a *exActor) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("%w: panic: %v\n%s", errExActor, p, debug.Stack())
				}
			}()
			o, ferr := s.factory(OrchestratorConfig{
				Store: a.store, Machine: s.sc.mach(), Grace: exGrace, Logger: s.log.logger().With("actor", a.letter),
				Clock: s.clock.reader(a.spec.skew, a.spec.still), Indexed: s.sc.indexed,
			})
			if ferr != nil {
				err = fmt.Errorf("%w: build the orchestrator: %v", errExActor, ferr)
				return
			}
			a.env.o = o
			if s.sc.apply != nil {
				var perr error
				if a.env.p, perr = s.newProjector(a); perr != nil {
					err = fmt.Errorf("%w: build the projector: %v", errExActor, perr)
					return
				}
			}
			err = a.spec.run(s.ctx, a.env)
		}()
		select {
		case a.events <- exEvent{err: err}:
		case <-s.ctx.Done():
		}
	}()
}

var errExActor = errors.New("actor failed")

// await waits for the actor's next call, or for it to return.
func (s *exSchedule) await(a *exActor) error {
	t := time.NewTimer(exStall)
	defer t.Stop()
	select {
	case ev := <-a.events:
		if ev.call != nil {
			a.pending = ev.call
			return nil
		}
		a.done, a.err = true, ev.err
		s.trace = append(s.trace, fmt.Sprintf("    %s   returned: %s", a.letter, exNote(ev.err, "ok")))
		if errors.Is(ev.err, errExActor) {
			return fmt.Errorf("actor %s (%s): %w", a.letter, a.spec.name, ev.err)
		}
		if errors.Is(ev.err, storage.ErrInvalid) {
			return fmt.Errorf("actor %s (%s) made a call the orchestrator rejected as invalid input: %w", a.letter, a.spec.name, ev.err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("actor %s (%s) neither called the store nor returned within %s", a.letter, a.spec.name, exStall)
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// step runs (or fails) the actor's pending call, reads back what it wrote,
// checks I and IV, and replies to the actor.
func (s *exSchedule) step(a *exActor, fault exFault) error {
	c := a.pending
	a.pending = nil
	n := len(s.hist)
	c.step = n
	var reply, err error
	result := "failed before it ran"
	if fault != exFailBefore {
		result, err = c.run()
	}
	if fault != exNoFault {
		reply = fmt.Errorf("storagetest: %s: %w", map[exFault]string{exFailBefore: "failed before it ran", exLostResponse: "response lost"}[fault], faultstore.ErrInjected)
		if fault == exLostResponse {
			result += ", response lost"
		}
	}
	tok := a.letter + exFaultTokens[fault]
	s.tokens = append(s.tokens, tok)
	desc := fmt.Sprintf("%s %s", tok, c.desc)
	s.trace = append(s.trace, fmt.Sprintf("%3d %-3s %s → %s", n, tok, c.desc, result))
	prev := s.hist[n-1]
	next := prev
	unchanged := fault == exFailBefore || !c.method.IsWrite() ||
		errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) ||
		errors.Is(err, storage.ErrAlreadyExists) || errors.Is(err, storage.ErrInvalid)
	if !unchanged {
		var rerr error
		if next, rerr = s.refresh(prev, c); rerr != nil {
			return rerr
		}
	}
	s.hist = append(s.hist, next)
	s.done = append(s.done, exStepRec{actor: a, call: c, ran: fault != exFailBefore, landed: c.method.IsWrite() && !unchanged, jumps: s.jumps})
	s.checkStep(n, desc, prev, next)
	c.reply <- reply
	return nil
}
