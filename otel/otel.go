package otel

import (
	"context"
	"errors"

	global "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefold/statefold/observe"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/statefold/statefold/otel"

// Option configures [Hooks].
type Option func(*config)

type config struct {
	meters  metric.MeterProvider
	tracers trace.TracerProvider
}

// WithMeterProvider sets where the metrics go (default: the global
// provider). Hooks rejects a nil provider.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.meters = mp } }

// WithTracerProvider sets where the spans go (default: the global
// provider). Hooks rejects a nil provider.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tracers = tp } }

// Hooks returns hooks for applystate.WithHooks and batchstate.WithHooks
// (the same hooks serve both) that record every call as a span and the
// metrics the package documents. A nil option or provider is an error.
func Hooks(opts ...Option) (observe.Hooks, error) {
	c := config{meters: global.GetMeterProvider(), tracers: global.GetTracerProvider()}
	for _, o := range opts {
		if o == nil {
			return observe.Hooks{}, errors.New("otel: nil option")
		}
		o(&c)
	}
	if c.meters == nil || c.tracers == nil {
		return observe.Hooks{}, errors.New("otel: nil meter or tracer provider")
	}
	r, err := newRecorder(c.meters.Meter(ScopeName), c.tracers.Tracer(ScopeName))
	if err != nil {
		return observe.Hooks{}, err
	}
	return observe.Hooks{OnStart: r.start, OnEnd: r.end, OnEvent: r.event}, nil
}

// recorder holds the instruments.
type recorder struct {
	tracer   trace.Tracer
	duration metric.Float64Histogram
	calls    metric.Int64Counter
	outcomes metric.Int64Counter
	events   map[observe.Kind]metric.Int64Counter
}

// counters are the counter of each event kind: name, unit, description.
var counters = map[observe.Kind][3]string{
	observe.Conflict:  {"statefold.conflicts", "{write}", "Conditional writes lost to another write."},
	observe.Ambiguous: {"statefold.ambiguous_writes", "{write}", "Writes whose outcome the store could not tell."},
	observe.Retry:     {"statefold.retries", "{round}", "Rounds a call started again after a lost write."},
	observe.Reread:    {"statefold.list.rereads", "{read}", "Index reads a List made again because a Reconcile overlapped it."},
	observe.Takeover:  {"statefold.takeovers", "{takeover}", "Operations or Reconcile leases taken over from another owner."},
	observe.Removed:   {"statefold.index.removals", "{row}", "Index rows Reconcile removed."},
	observe.Fenced:    {"statefold.fences", "{write}", "Writes Reconcile fenced off."},
	observe.Pruned:    {"statefold.prunes", "{batch}", "Finished batches Prune turned into tombstones."},
}

func newRecorder(m metric.Meter, t trace.Tracer) (*recorder, error) {
	r := &recorder{tracer: t, events: map[observe.Kind]metric.Int64Counter{}}
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	r.duration, err = m.Float64Histogram("statefold.call.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of the calls of statefold's orchestrators."))
	add(err)
	r.calls, err = m.Int64Counter("statefold.calls", metric.WithUnit("{call}"), metric.WithDescription("Calls of statefold's orchestrators."))
	add(err)
	r.outcomes, err = m.Int64Counter("statefold.apply.outcomes", metric.WithUnit("{call}"),
		metric.WithDescription("Outcomes of the applystate calls that return a Result."))
	add(err)
	for kind, c := range counters {
		r.events[kind], err = m.Int64Counter(c[0], metric.WithUnit(c[1]), metric.WithDescription(c[2]))
		add(err)
	}
	return r, errors.Join(errs...)
}

// callAttrs are the metric attributes of every call.
func callAttrs(c observe.Call) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("statefold.orchestrator", c.Orchestrator), attribute.String("statefold.method", c.Method)}
}

func (r *recorder) start(ctx context.Context, c observe.Call) context.Context {
	attrs := callAttrs(c)
	for k, v := range map[string]string{"statefold.apply.id": c.ApplyID, "statefold.operation.id": c.OperationID,
		"statefold.queue": c.Queue, "statefold.batch.id": c.BatchID} {
		if v != "" {
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	ctx, _ = r.tracer.Start(ctx, c.Orchestrator+"."+c.Method, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(c.Start), trace.WithAttributes(attrs...))
	return ctx
}

func (r *recorder) end(ctx context.Context, c observe.Call, o observe.Outcome) {
	attrs := callAttrs(c)
	if o.Err != nil {
		attrs = append(attrs, attribute.String("error.type", errorType(o.ErrorType)))
	}
	set := metric.WithAttributes(attrs...)
	r.duration.Record(ctx, o.Duration.Seconds(), set)
	r.calls.Add(ctx, 1, set)
	span := trace.SpanFromContext(ctx)
	if o.Directive != "" {
		out := []attribute.KeyValue{attribute.String("statefold.apply.state", o.State),
			attribute.String("statefold.directive", o.Directive), attribute.Bool("statefold.terminalized", o.Terminalized)}
		r.outcomes.Add(ctx, 1, metric.WithAttributes(append(callAttrs(c), out...)...))
		span.SetAttributes(append(out, attribute.Bool("statefold.changed", o.Changed))...)
	}
	if o.State != "" {
		span.SetAttributes(attribute.String("statefold.state", o.State))
	}
	if o.Err != nil {
		span.SetAttributes(attribute.String("error.type", errorType(o.ErrorType)))
		span.SetStatus(codes.Error, o.Err.Error())
	}
	span.End(trace.WithTimestamp(c.Start.Add(o.Duration)))
}

func (r *recorder) event(ctx context.Context, e observe.Event) {
	attrs := callAttrs(e.Call)
	if e.Reason != "" {
		attrs = append(attrs, attribute.String("statefold.reason", e.Reason))
	}
	if counter, ok := r.events[e.Kind]; ok {
		counter.Add(ctx, int64(e.Count), metric.WithAttributes(attrs...))
	}
	ev := []attribute.KeyValue{attribute.Int("statefold.count", e.Count)}
	if e.Reason != "" {
		ev = append(ev, attribute.String("statefold.reason", e.Reason))
	}
	if e.Attempt > 0 {
		ev = append(ev, attribute.Int("statefold.attempt", e.Attempt))
	}
	trace.SpanFromContext(ctx).AddEvent("statefold."+string(e.Kind), trace.WithAttributes(ev...))
}

// errorType is the error.type attribute of an Outcome's ErrorType: OTel's
// "_OTHER" for an error no sentinel matches.
func errorType(t string) string {
	if t == "other" || t == "" {
		return "_OTHER"
	}
	return t
}
