package otel_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/otel"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// telemetry is an in-memory meter and tracer provider and the hooks over
// them.
type telemetry struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	hooks  observe.Hooks
}

func newTelemetry(t *testing.T) telemetry {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	h, err := otel.Hooks(otel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		otel.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))
	require.NoError(t, err)
	return telemetry{reader: reader, spans: spans, hooks: h}
}

// sums returns each counter's value per "method" or "method/reason" (or
// "method/state/directive/terminalized" for outcomes), and each
// histogram's count per method, keyed by metric name.
func (tm telemetry) sums(t *testing.T) map[string]map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tm.reader.Collect(context.Background(), &rm))
	out := map[string]map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, otel.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			got := map[string]int64{}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[key(p.Attributes)] += p.Value
				}
			case metricdata.Histogram[float64]:
				require.Equal(t, "s", m.Unit)
				for _, p := range d.DataPoints {
					got[key(p.Attributes)] += int64(p.Count)
				}
			}
			out[m.Name] = got
		}
	}
	return out
}

// key joins the attributes that vary in the tests.
func key(set attribute.Set) string {
	k := ""
	for _, a := range []attribute.Key{"statefold.method", "statefold.reason", "error.type", "statefold.apply.state", "statefold.directive", "statefold.terminalized"} {
		if v, ok := set.Value(a); ok {
			if k != "" {
				k += "/"
			}
			k += v.Emit()
		}
	}
	return k
}

// spanNames returns the names of the spans ended, in order, with their
// events.
func (tm telemetry) spanNames() []string {
	var out []string
	for _, s := range tm.spans.Ended() {
		name := s.Name()
		for _, e := range s.Events() {
			name += " +" + e.Name
		}
		out = append(out, name)
	}
	return out
}

func TestRollout(t *testing.T) {
	ctx := context.Background()
	tm := newTelemetry(t)
	store := memory.New()
	p, err := applystate.NewProjector(store, store, applystate.WithHooks(tm.hooks))
	require.NoError(t, err)
	_, _, err = p.CreatePlan(ctx, applystate.Plan{Apply: storage.Apply{ID: "r1"},
		Operations: []storage.Operation{{ID: "us-east", Seq: 0}, {ID: "eu-west", Seq: 1}}})
	require.NoError(t, err)
	for _, s := range []struct {
		op    string
		state applystate.State
	}{{"us-east", applystate.Running}, {"eu-west", applystate.Running}, {"us-east", applystate.Completed}, {"eu-west", applystate.Completed}} {
		_, err := p.Drive(ctx, "r1", []applystate.Task{{OperationID: s.op, State: s.state}})
		require.NoError(t, err)
	}
	_, err = p.Drive(ctx, "r1", []applystate.Task{{OperationID: "nowhere", State: applystate.Running}})
	require.ErrorIs(t, err, storage.ErrInvalid)

	m := tm.sums(t)
	require.Equal(t, map[string]int64{"CreatePlan": 1, "Drive": 4, "Drive/invalid": 1}, m["statefold.call.duration"])
	require.Equal(t, m["statefold.call.duration"], m["statefold.calls"])
	require.Equal(t, map[string]int64{
		"Drive/running/proceed/false":       2,
		"Drive/running/do_not_start/false":  1,
		"Drive/completed/do_not_start/true": 1,
	}, m["statefold.apply.outcomes"])
	require.Equal(t, []string{"applystate.CreatePlan", "applystate.Drive", "applystate.Drive", "applystate.Drive",
		"applystate.Drive", "applystate.Drive"}, tm.spanNames())
	last := tm.spans.Ended()[5]
	require.Equal(t, "Error", last.Status().Code.String())
	require.Contains(t, last.Attributes(), attribute.String("error.type", "invalid"))
	require.Contains(t, last.Attributes(), attribute.String("statefold.apply.id", "r1"))
	done := tm.spans.Ended()[4]
	require.Contains(t, done.Attributes(), attribute.Bool("statefold.terminalized", true))
	require.Contains(t, done.Attributes(), attribute.String("statefold.operation.id", "eu-west"))
}

func TestQueueCycle(t *testing.T) {
	ctx := context.Background()
	tm := newTelemetry(t)
	store := memory.New()
	machine := batchstate.Machine{States: []string{"queued", "running", "done"}, Terminal: []string{"done"},
		Transitions: map[string][]string{"queued": {"running"}, "running": {"done"}}}
	o, err := batchstate.New(store, store, machine, batchstate.WithHooks(tm.hooks))
	require.NoError(t, err)
	b, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "b1", State: "queued"})
	require.NoError(t, err)
	moved, err := o.Transition(ctx, b, "running")
	require.NoError(t, err)
	_, err = o.Transition(ctx, b, "running") // b is stale: a lost compare-and-swap
	require.ErrorIs(t, err, storage.ErrConflict)
	listed, err := o.List(ctx, "q", "running")
	require.NoError(t, err)
	require.Equal(t, []storage.Batch{moved}, listed)
	rep, err := o.Reconcile(ctx, "q") // the row of queued is stale
	require.NoError(t, err)
	require.Equal(t, 1, rep.RemovedStale)

	m := tm.sums(t)
	require.Equal(t, map[string]int64{"Create": 1, "Transition": 1, "Transition/conflict": 1, "List": 1, "Reconcile": 1},
		m["statefold.call.duration"])
	require.Equal(t, m["statefold.call.duration"], m["statefold.calls"])
	require.Equal(t, map[string]int64{"Reconcile/stale": 1}, m["statefold.index.removals"])
	require.Equal(t, map[string]int64{"Transition/UpdateBatch": 1}, m["statefold.conflicts"], "the stale Transition's lost write")
	require.Equal(t, []string{"batchstate.Create", "batchstate.Transition", "batchstate.Transition +statefold.conflict",
		"batchstate.List", "batchstate.Reconcile +statefold.removed"}, tm.spanNames())
	require.Contains(t, tm.spans.Ended()[1].Attributes(), attribute.String("statefold.state", "running"))
	require.Contains(t, tm.spans.Ended()[0].Attributes(), attribute.String("statefold.queue", "q"))
}

func TestBadOptions(t *testing.T) {
	_, err := otel.Hooks(nil)
	require.Error(t, err)
	_, err = otel.Hooks(otel.WithMeterProvider(nil))
	require.Error(t, err)
	h, err := otel.Hooks() // the global providers: no-ops
	require.NoError(t, err)
	require.NotNil(t, h.OnStart)
}
