package applystate

import (
	"context"
	"errors"

	"github.com/statefold/statefold/internal/hook"
	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/storage"
)

// WithHooks registers h to hear of every call of the Projector's public
// methods (Drive, CreatePlan, Stop, ReleasePause, Reproject, Acquire,
// Renew, Release, ListOpen, Sweep, Prune: start, end, latency and outcome — the
// Result's state, directive, Changed and Terminalized) and of what
// happens within them: conflicts and ambiguous writes at the store,
// retries, takeovers of an operation (see the observe package). Given
// several times, every h is called, in order. The hooks observe only:
// what a call writes and returns is the same with them.
func WithHooks(h observe.Hooks) Option { return func(c *config) { c.hooks.Add(h) } }

// hooked returns the stores a Projector with cfg uses: with hooks, stores
// that report their writes' conflicts and ambiguous outcomes.
func hooked(applies storage.ApplyStore, ops storage.OperationStore, cfg *config) (storage.ApplyStore, storage.OperationStore) {
	if !cfg.hooks.On() {
		return applies, ops
	}
	if cfg.discovery != nil {
		d := *cfg.discovery
		d.members = hook.Members(d.members)
		cfg.discovery = &d
	}
	return hook.Applies(applies), hook.Operations(ops)
}

// start starts a call of method on applyID (and opID) for the hooks.
func (p *Projector) start(ctx context.Context, method, applyID, opID string) (context.Context, hook.Call) {
	return p.cfg.hooks.Start(ctx, observe.Call{Orchestrator: "applystate", Method: method, ApplyID: applyID, OperationID: opID})
}

// onApply runs do as the call of method on apply applyID: the hooks hear
// of its start and end, and do runs (under the call's context) only once
// ctx is live, the store of operations is set and applyID is a valid key.
// Stop, ReleasePause and Reproject are such calls.
func (p *Projector) onApply(ctx context.Context, method, applyID string, do func(context.Context, string) (Result, error)) (res Result, err error) {
	ctx, call := p.start(ctx, method, applyID, "")
	defer func() { ended(call, res, err) }()
	if err := p.check(ctx, applyID, true); err != nil {
		return Result{}, err
	}
	return do(ctx, applyID)
}

// ended ends c, a call that returned res and err.
func ended(c hook.Call, res Result, err error) {
	if !c.On() {
		return
	}
	o := observe.Outcome{Changed: res.Changed, Terminalized: res.Terminalized}
	if err == nil {
		o.State, o.Previous, o.Directive = string(Normalize(res.Apply.State)), string(res.Previous), res.Next.String()
	}
	c.End(err, o, errorType)
}

// endApply ends c, a call that returned a and err.
func endApply(c hook.Call, a storage.Apply, err error) {
	if !c.On() {
		return
	}
	o := observe.Outcome{}
	if err == nil {
		o.State = string(Normalize(a.State))
	}
	c.End(err, o, errorType)
}

// errorType classifies err for the hooks: this package's sentinels, then
// the storage ones.
func errorType(err error) string {
	switch {
	case errors.Is(err, ErrAmbiguous):
		return "ambiguous"
	case errors.Is(err, ErrNotOwner):
		return "not_owner"
	case errors.Is(err, ErrOwned):
		return "owned"
	}
	return hook.ErrorType(err)
}

// retrying reports the round attempt (from 0) of the call ctx carries, when
// it is not the first.
func retrying(ctx context.Context, attempt int) {
	if attempt > 0 {
		hook.Emit(ctx, observe.Event{Kind: observe.Retry, Attempt: attempt + 1})
	}
}

// taskOperation is the operation tasks name, "" for none.
func taskOperation(tasks []Task) string {
	if len(tasks) == 0 {
		return ""
	}
	return tasks[0].OperationID
}
