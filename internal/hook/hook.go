// Package hook calls the [observe.Hooks] of an orchestrator: the start
// and end of its public calls, the events within them, and the conflicts
// and ambiguous writes its stores answer.
package hook

import (
	"context"
	"errors"
	"time"

	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/storage"
)

// Set is the hooks an orchestrator was given, in order; the zero Set
// calls nothing.
type Set struct{ hooks []observe.Hooks }

// Add appends h.
func (s *Set) Add(h observe.Hooks) { s.hooks = append(s.hooks, h) }

// On reports whether any hook is set.
func (s *Set) On() bool { return s != nil && len(s.hooks) > 0 }

type callKey struct{}

// Call is a call in progress, as Start returned it.
type Call struct {
	set  *Set
	ctx  context.Context
	call observe.Call
}

// Start starts c: the hooks' OnStart, in order, then c carried in the
// returned context for the events within the call.
func (s *Set) Start(ctx context.Context, c observe.Call) (context.Context, Call) {
	if !s.On() {
		return ctx, Call{}
	}
	c.Start = time.Now()
	for _, h := range s.hooks {
		if h.OnStart != nil {
			if next := h.OnStart(ctx, c); next != nil {
				ctx = next
			}
		}
	}
	ctx = context.WithValue(ctx, callKey{}, &Call{set: s, call: c})
	return ctx, Call{set: s, ctx: ctx, call: c}
}

// On reports whether the call has hooks to tell.
func (c Call) On() bool { return c.set != nil }

// End ends the call with o (Duration and ErrorType are filled in from
// err and the call's start; classify classifies err, nil: [ErrorType]).
func (c Call) End(err error, o observe.Outcome, classify func(error) string) {
	if c.set == nil {
		return
	}
	o.Duration, o.Err = time.Since(c.call.Start), err
	if err != nil {
		if classify == nil {
			classify = ErrorType
		}
		o.ErrorType = classify(err)
	}
	for _, h := range c.set.hooks {
		if h.OnEnd != nil {
			h.OnEnd(c.ctx, c.call, o)
		}
	}
}

// EndPruned reports that the call pruned n (a Pruned event, when n > 0),
// then ends it with Count n.
func (c Call) EndPruned(n int, err error, classify func(error) string) {
	if c.set == nil {
		return
	}
	if n > 0 {
		Emit(c.ctx, observe.Event{Kind: observe.Pruned, Count: n})
	}
	c.End(err, observe.Outcome{Count: n}, classify)
}

// Emit reports e within the call ctx carries; outside a call, nothing.
// Count defaults to 1.
func Emit(ctx context.Context, e observe.Event) {
	c, ok := ctx.Value(callKey{}).(*Call)
	if !ok {
		return
	}
	e.Call = c.call
	if e.Count == 0 {
		e.Count = 1
	}
	for _, h := range c.set.hooks {
		if h.OnEvent != nil {
			h.OnEvent(ctx, e)
		}
	}
}

// ErrorType classifies err by the storage sentinels and the context's
// errors (see observe.Outcome.ErrorType); "" for nil.
func ErrorType(err error) string {
	for _, s := range []struct {
		err  error
		name string
	}{
		{storage.ErrAmbiguous, "ambiguous"}, {storage.ErrInvalid, "invalid"}, {storage.ErrNotFound, "not_found"},
		{storage.ErrAlreadyExists, "already_exists"}, {storage.ErrConflict, "conflict"},
		{storage.ErrUnavailable, "unavailable"}, {storage.ErrSchema, "schema"},
		{context.Canceled, "canceled"}, {context.DeadlineExceeded, "deadline_exceeded"},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	if err == nil {
		return ""
	}
	return "other"
}

// written reports a write's error as an event of the call ctx carries —
// Ambiguous, or Conflict for a lost conditional write — and returns it.
func written(ctx context.Context, method string, err error) error {
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrAmbiguous):
		Emit(ctx, observe.Event{Kind: observe.Ambiguous, Reason: method, Err: err})
	case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrAlreadyExists):
		Emit(ctx, observe.Event{Kind: observe.Conflict, Reason: method, Err: err})
	}
	return err
}
