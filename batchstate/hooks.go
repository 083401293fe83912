package batchstate

import (
	"context"

	"github.com/statefold/statefold/internal/hook"
	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/storage"
)

// WithHooks registers h to hear of every call of the Orchestrator's public
// methods (Create, Transition, List, ListPage, Reconcile, Lookup,
// ListFinished, Prune: start, end, latency and outcome) and of what
// happens within them: conflicts and ambiguous writes at the store, List
// and ListPage re-reads, a
// Reconcile's removals, fences and lease takeovers, a Prune's tombstones
// (see the observe package). Given several times, every h is called, in
// order. The hooks observe only: what a call writes and returns is the
// same with them.
func WithHooks(h observe.Hooks) Option { return func(c *config) { c.hooks.Add(h) } }

// hooked returns the stores an Orchestrator with cfg uses: with hooks,
// stores that report their writes' conflicts and ambiguous outcomes.
func hooked(batches storage.BatchStore, members storage.MembershipStore, cfg config) (storage.BatchStore, storage.MembershipStore) {
	if !cfg.hooks.On() {
		return batches, members
	}
	return hook.Batches(batches), hook.Members(members)
}

// start starts a call of method on queue (and id) for the hooks.
func (o *Orchestrator) start(ctx context.Context, method, queue, id string) (context.Context, hook.Call) {
	return o.cfg.hooks.Start(ctx, observe.Call{Orchestrator: "batchstate", Method: method, Queue: queue, BatchID: id})
}

// endBatch ends c, a call that returned b and err.
func endBatch(c hook.Call, b storage.Batch, err error) {
	o := observe.Outcome{}
	if err == nil {
		o.State = b.State
	}
	c.End(err, o, nil)
}

// endList ends c, a call that returned bs and err.
func endList(c hook.Call, bs []storage.Batch, err error) {
	c.End(err, observe.Outcome{Count: len(bs)}, nil)
}

// endReconcile reports what rep removed and fenced, then ends c.
func endReconcile(ctx context.Context, c hook.Call, rep ReconcileReport, err error) {
	if !c.On() {
		return
	}
	for _, n := range []struct {
		reason string
		count  int
	}{{"terminal", rep.RemovedTerminal}, {"stale", rep.RemovedStale}, {"dangling", rep.RemovedDangling}, {"key", rep.Indexes.Removed}} {
		if n.count > 0 {
			hook.Emit(ctx, observe.Event{Kind: observe.Removed, Reason: n.reason, Count: n.count})
		}
	}
	if rep.Indexes.Fenced > 0 {
		hook.Emit(ctx, observe.Event{Kind: observe.Fenced, Reason: "key", Count: rep.Indexes.Fenced})
	}
	c.End(err, observe.Outcome{Count: rep.Scanned}, nil)
}

// emit reports an event of kind for reason within the call ctx carries.
func emit(ctx context.Context, kind observe.Kind, reason string) {
	hook.Emit(ctx, observe.Event{Kind: kind, Reason: reason})
}

// reason is the Reason of the Reread an attempt ending in r causes.
func (r listResult) reason() string {
	if r == listHeld {
		return "held"
	}
	return "changed"
}
