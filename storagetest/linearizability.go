package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/storage"
)

// LinearizabilityConfig sizes a [CheckLinearizable] run.
type LinearizabilityConfig struct {
	// Clients is how many callers run at once (default 6).
	Clients int
	// Operations is how many calls each client makes (default 60).
	Operations int
	// Seed seeds the clients' choices.
	Seed uint64
	// Timeout bounds the check of the recorded history (default 30s).
	Timeout time.Duration
}

// LinearizabilityResult is one recorded history and its check.
type LinearizabilityResult struct {
	// Operations is how many calls the history holds; Ambiguous of them
	// are writes that failed with storage.ErrAmbiguous (or with an error
	// the store did not classify) and count as possibly applied, at any
	// time after their call.
	Operations, Ambiguous int
	// Dropped is how many reads failed; a failed read changes nothing and
	// is left out of the history.
	Dropped int
	// NotApplied is how many writes failed with storage.ErrUnavailable but
	// not storage.ErrAmbiguous: the store says they did not land, so they
	// are left out of the history too, and one that did land makes the
	// history fail the check.
	NotApplied int
	// Linearizable reports that some sequential order of the calls,
	// consistent with their real-time order, explains every result.
	Linearizable bool
	// Unknown reports that the check ran out of time.
	Unknown bool
}

// CheckLinearizable records the history of concurrent clients calling
// store — creates, reads, compare-and-swap updates and conditional
// deletes of three batches,
// upserts, conditional removals and listings of one membership bucket —
// and checks it, with the porcupine linearizability checker, against a
// sequential model of the store contract, the way Jepsen checks a
// database. Run it on a store whose network faults are injected below it:
// a write that failed with storage.ErrAmbiguous counts as possibly applied;
// one that failed with storage.ErrUnavailable alone must not have landed.
// It uses a queue of its own.
func CheckLinearizable(ctx context.Context, store storage.Store, cfg LinearizabilityConfig) (LinearizabilityResult, error) {
	if cfg.Clients <= 0 {
		cfg.Clients = 6
	}
	if cfg.Operations <= 0 {
		cfg.Operations = 60
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	queue := UniqueID("lin")
	var clock atomic.Int64
	var mu sync.Mutex
	var history []porcupine.Operation
	res := LinearizabilityResult{}
	record := func(client int, in linIn, call int64, out linOut, err error) {
		mu.Lock()
		defer mu.Unlock()
		ret := clock.Add(1)
		switch {
		case err == nil:
		case errors.Is(err, storage.ErrAlreadyExists):
			out.kind = linExists
		case errors.Is(err, storage.ErrNotFound):
			out.kind = linNotFound
		case errors.Is(err, storage.ErrConflict) && !errors.Is(err, storage.ErrAmbiguous):
			out.kind = linConflict
		case in.op.write() && errors.Is(err, storage.ErrUnavailable) && !errors.Is(err, storage.ErrAmbiguous):
			res.NotApplied++
			return
		case in.op.write():
			out.kind, ret = linUnknown, math.MaxInt64
			res.Ambiguous++
		default:
			res.Dropped++
			return
		}
		history = append(history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	}
	g, gctx := errgroup.WithContext(ctx)
	for c := range cfg.Clients {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(c)))
		g.Go(func() error {
			for range cfg.Operations {
				if err := gctx.Err(); err != nil {
					return err
				}
				in := linRandom(rng)
				call := clock.Add(1)
				out, err := in.run(gctx, store, queue)
				if errors.Is(err, storage.ErrInvalid) {
					return fmt.Errorf("storagetest: linearizability: %v rejected as invalid: %w", in, err)
				}
				record(c, in, call, out, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	res.Operations = len(history)
	switch porcupine.CheckOperationsTimeout(linModel.ToModel(), history, cfg.Timeout) {
	case porcupine.Ok:
		res.Linearizable = true
	case porcupine.Unknown:
		res.Unknown = true
	}
	return res, nil
}

type linOp int

const (
	linCreate linOp = iota
	linGet
	linUpdate
	linAdd
	linRemove
	linList
	linDelete
)

func (o linOp) write() bool { return o != linGet && o != linList }

// linIn is one call: on batch "b<key>" (create, get, update, delete) or on member
// "m<key>" of the bucket (add, remove), or a listing of the bucket.
type linIn struct {
	op        linOp
	key       int
	state     string // create, update: the new state; update: expected state in expState
	expState  string
	version   int64 // update, delete: expected version; add: the version; remove: max version
	partition int   // 0..2 batches, 3 the bucket
}

type linKind int

const (
	linOK linKind = iota
	linExists
	linNotFound
	linConflict
	linUnknown
)

type linOut struct {
	kind    linKind
	version int64
	state   string
	members [3]int64 // a listing: the version of m0..m2, 0 when absent
}

var linStates = []string{"s0", "s1", "s2"}

func linRandom(rng *rand.Rand) linIn {
	key := rng.IntN(3)
	switch op := linOp(rng.IntN(7)); op {
	case linCreate:
		return linIn{op: op, key: key, state: linStates[rng.IntN(3)], partition: key}
	case linGet:
		return linIn{op: op, key: key, partition: key}
	case linUpdate:
		return linIn{op: op, key: key, state: linStates[rng.IntN(3)], expState: linStates[rng.IntN(3)],
			version: 1 + rng.Int64N(4), partition: key}
	case linDelete:
		return linIn{op: op, key: key, version: 1 + rng.Int64N(4), partition: key}
	case linAdd:
		return linIn{op: op, key: key, version: 1 + rng.Int64N(4), partition: 3}
	case linRemove:
		return linIn{op: op, key: key, version: rng.Int64N(5), partition: 3}
	default:
		return linIn{op: linList, partition: 3}
	}
}

func (in linIn) run(ctx context.Context, s storage.Store, queue string) (linOut, error) {
	id := fmt.Sprintf("b%d", in.key)
	switch in.op {
	case linCreate:
		_, err := s.CreateBatch(ctx, storage.Batch{Queue: queue, ID: id, State: in.state})
		return linOut{}, err
	case linGet:
		b, err := s.GetBatch(ctx, queue, id)
		return linOut{version: b.Version, state: b.State}, err
	case linUpdate:
		b, err := s.UpdateBatch(ctx, storage.Batch{Queue: queue, ID: id, State: in.state}, in.version, in.expState)
		return linOut{version: b.Version}, err
	case linDelete:
		return linOut{}, s.DeleteBatch(ctx, queue, id, in.version)
	case linAdd:
		return linOut{}, s.AddMember(ctx, storage.Member{Queue: queue, State: "m", BatchID: fmt.Sprintf("m%d", in.key), Version: in.version})
	case linRemove:
		return linOut{}, s.RemoveMember(ctx, queue, "m", fmt.Sprintf("m%d", in.key), in.version)
	}
	ms, err := s.ListMembers(ctx, queue, "m")
	var out linOut
	for _, m := range ms {
		var k int
		if _, serr := fmt.Sscanf(m.BatchID, "m%d", &k); serr == nil && k >= 0 && k < 3 {
			out.members[k] = m.Version
		}
	}
	return out, err
}

// linBatch is a batch's state in the model; linBucket the bucket's.
type linBatch struct {
	exists  bool
	version int64
	state   string
}

type linBucket [3]int64

// linModel is the sequential store contract, one partition per batch and
// one for the bucket. An operation whose outcome is unknown may or may not
// have been applied: both successor states.
var linModel = porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		parts := make([][]porcupine.Operation, 4)
		for _, op := range history {
			p := op.Input.(linIn).partition
			parts[p] = append(parts[p], op)
		}
		return parts
	},
	Init: func() []interface{} { return []interface{}{linBatch{}, linBucket{}} },
	Step: func(state, input, output interface{}) []interface{} {
		in, out := input.(linIn), output.(linOut)
		if in.partition == 3 {
			b, ok := state.(linBucket)
			if !ok {
				return nil
			}
			return linStepBucket(b, in, out)
		}
		b, ok := state.(linBatch)
		if !ok {
			return nil
		}
		return linStepBatch(b, in, out)
	},
	Equal: func(a, b interface{}) bool { return a == b },
}

func linStepBatch(s linBatch, in linIn, out linOut) []interface{} {
	switch in.op {
	case linCreate:
		applied := linBatch{true, 1, in.state}
		switch {
		case out.kind == linUnknown && !s.exists:
			return []interface{}{applied, s}
		case out.kind == linUnknown, out.kind == linExists && s.exists:
			return []interface{}{s}
		case out.kind == linOK && !s.exists:
			return []interface{}{applied}
		}
	case linGet:
		switch {
		case out.kind == linNotFound && !s.exists:
			return []interface{}{s}
		case out.kind == linOK && s.exists && out.version == s.version && out.state == s.state:
			return []interface{}{s}
		}
	case linUpdate:
		match := s.exists && s.version == in.version && s.state == in.expState
		applied := linBatch{true, in.version + 1, in.state}
		switch {
		case out.kind == linUnknown && match:
			return []interface{}{applied, s}
		case out.kind == linUnknown:
			return []interface{}{s}
		case out.kind == linOK && match && out.version == in.version+1:
			return []interface{}{applied}
		case out.kind == linConflict && s.exists && !match:
			return []interface{}{s}
		case out.kind == linNotFound && !s.exists:
			return []interface{}{s}
		}
	case linDelete:
		return linStepDelete(s, in, out)
	}
	return nil
}

// linStepDelete is a conditional delete: the row goes only at the
// expected version.
func linStepDelete(s linBatch, in linIn, out linOut) []interface{} {
	match := s.exists && s.version == in.version
	switch {
	case out.kind == linUnknown && match:
		return []interface{}{linBatch{}, s}
	case out.kind == linUnknown:
		return []interface{}{s}
	case out.kind == linOK && match:
		return []interface{}{linBatch{}}
	case out.kind == linConflict && s.exists && !match:
		return []interface{}{s}
	case out.kind == linNotFound && !s.exists:
		return []interface{}{s}
	}
	return nil
}

func linStepBucket(s linBucket, in linIn, out linOut) []interface{} {
	switch in.op {
	case linAdd:
		applied := s
		applied[in.key] = in.version
		fits := s[in.key] == 0 || s[in.key] <= in.version
		switch {
		case out.kind == linUnknown && fits:
			return []interface{}{applied, s}
		case out.kind == linUnknown:
			return []interface{}{s}
		case out.kind == linOK && fits:
			return []interface{}{applied}
		case out.kind == linConflict && !fits:
			return []interface{}{s}
		}
	case linRemove:
		applied := s
		if s[in.key] != 0 && s[in.key] <= in.version {
			applied[in.key] = 0
		}
		switch out.kind {
		case linUnknown:
			return []interface{}{applied, s}
		case linOK:
			return []interface{}{applied}
		}
	case linList:
		if out.kind == linOK && out.members == [3]int64(s) {
			return []interface{}{s}
		}
	}
	return nil
}
