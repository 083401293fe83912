package batchstate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// explainer is an orchestrator over mq with a clock the test moves, the
// request index (payload fields) and the finished index.
type explainer struct {
	o     *batchstate.Orchestrator
	spy   *spy
	now   time.Time
	grace time.Duration
}

func newExplainer(t *testing.T) *explainer {
	x := &explainer{spy: newSpy(), now: time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC), grace: time.Minute}
	o, err := batchstate.New(x.spy, x.spy, mq, batchstate.WithClock(func() time.Time { return x.now }),
		batchstate.WithDanglingGrace(x.grace), batchstate.WithFinishedIndex(),
		batchstate.WithIndex("request", func(b storage.Batch) []string { return strings.Fields(string(b.Payload)) }))
	require.NoError(t, err)
	x.o = o
	return x
}

func (x *explainer) explain(t *testing.T, id string) batchstate.BatchExplanation {
	e, err := x.o.Explain(context.Background(), "q", id)
	require.NoError(t, err)
	return e
}

// reasons maps each row's bucket to its reason.
func reasons(e batchstate.BatchExplanation) map[string]batchstate.RowReason {
	out := map[string]batchstate.RowReason{}
	for _, r := range e.Rows {
		out[r.Bucket()] = r.Reason
		if r.Stale != (r.Reason != batchstate.RowLive) {
			panic("Stale disagrees with Reason")
		}
	}
	return out
}

func TestExplainBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	x := newExplainer(t)
	b, err := x.o.Create(ctx, storage.Batch{Queue: "q", ID: "b1", State: "created", Payload: []byte("pr-1 pr-2")})
	require.NoError(t, err)
	e := x.explain(t, "b1")
	require.Equal(t, "created", e.ListedIn)
	require.Equal(t, map[string]batchstate.RowReason{"state created": "live", "key request=pr-1": "live", "key request=pr-2": "live"}, reasons(e))
	require.Empty(t, e.Missing)

	// A move leaves the row of the state it left; a failed best-effort
	// removal leaves the row of a key the batch dropped.
	b.Payload = []byte("pr-1")
	x.spy.failNext(mRemoveMember)
	b, err = x.o.Transition(ctx, b, "speculating")
	require.NoError(t, err)
	e = x.explain(t, "b1")
	require.Equal(t, "speculating", e.ListedIn)
	require.Equal(t, map[string]batchstate.RowReason{
		"state created": batchstate.RowLeftByMove, "state speculating": "live",
		"key request=pr-1": "live", "key request=pr-2": batchstate.RowKeyDropped,
	}, reasons(e))

	// A move into merging whose batch write never landed: in flight, then
	// stalled once the grace passed.
	require.NoError(t, x.spy.AddMember(ctx, storage.Member{Queue: "q", State: "merging", BatchID: "b1", Version: b.Version + 1, AddedAt: x.now}))
	e = x.explain(t, "b1")
	require.Equal(t, batchstate.RowMoveInFlight, reasons(e)["state merging"])
	require.Contains(t, e.String(), "at "+x.now.Add(x.grace).Format(time.RFC3339))
	x.now = x.now.Add(2 * x.grace)
	require.Equal(t, batchstate.RowMoveStalled, reasons(x.explain(t, "b1"))["state merging"])

	// Reconcile removes every stale row Explain names once the grace passed.
	_, err = x.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	e = x.explain(t, "b1")
	require.Equal(t, map[string]batchstate.RowReason{"state speculating": "live", "key request=pr-1": "live"}, reasons(e))
}

func TestExplainBatchCreateAndFinal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	x := newExplainer(t)
	require.NoError(t, x.spy.AddMember(ctx, storage.Member{Queue: "q", State: "created", BatchID: "ghost", Version: 1, AddedAt: x.now}))
	e := x.explain(t, "ghost")
	require.False(t, e.Exists)
	require.Equal(t, batchstate.RowCreateInFlight, reasons(e)["state created"])
	require.Contains(t, e.String(), "does not exist")
	x.now = x.now.Add(2 * x.grace)
	require.Equal(t, batchstate.RowCreateStalled, reasons(x.explain(t, "ghost"))["state created"])

	_, err := x.o.Explain(ctx, "q", "nobody")
	require.True(t, errors.Is(err, storage.ErrNotFound), "%v", err)

	// A finished batch is listed nowhere and filed under its day; a row
	// of it left in a state is final.
	b, err := x.o.Create(ctx, storage.Batch{Queue: "q", ID: "b2", State: "merging"})
	require.NoError(t, err)
	_, err = x.o.Transition(ctx, b, "succeeded")
	require.NoError(t, err)
	require.NoError(t, x.spy.AddMember(ctx, storage.Member{Queue: "q", State: "merging", BatchID: "b2", Version: 1, AddedAt: x.now}))
	e = x.explain(t, "b2")
	require.Empty(t, e.ListedIn)
	require.Equal(t, map[string]batchstate.RowReason{"state merging": batchstate.RowFinal, "finished 2026-03-04": "live"}, reasons(e))
	require.Contains(t, e.String(), "listed in: no state (terminal states are not indexed)")

	// A live batch without its state row or a key row breaks a promise:
	// Explain names what is missing.
	b3, err := x.o.Create(ctx, storage.Batch{Queue: "q", ID: "b3", State: "created", Payload: []byte("pr-3")})
	require.NoError(t, err)
	require.NoError(t, x.spy.RemoveMember(ctx, "q", "created", "b3", b3.Version))
	require.NoError(t, x.spy.RemoveMember(ctx, "q", "\x00statefold:key:request:pr-3", "b3", b3.Version))
	e = x.explain(t, "b3")
	require.Equal(t, []string{"state created", "key request=pr-3"}, e.Missing)
	require.Contains(t, e.String(), "missing: state created")
}

func TestExplainBatchInput(t *testing.T) {
	t.Parallel()
	x := newExplainer(t)
	ctx := context.Background()
	for _, c := range []struct{ queue, id string }{{"", "b"}, {"q", ""}, {"q", batchstate.LeaseID}} {
		x.spy.reset()
		_, err := x.o.Explain(ctx, c.queue, c.id)
		require.True(t, errors.Is(err, storage.ErrInvalid), "%q %q: %v", c.queue, c.id, err)
		require.Zero(t, x.spy.total(), "no store call on bad input")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := x.o.Explain(canceled, "q", "b")
	require.ErrorIs(t, err, context.Canceled)
}

// Explain says where a batch is listed and why a row it left behind is
// still there.
func ExampleOrchestrator_Explain() {
	ctx := context.Background()
	store := memory.New()
	now := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	queue, err := batchstate.New(store, store,
		batchstate.Machine{States: []string{"queued", "testing", "merged"}, Terminal: []string{"merged"},
			Transitions: map[string][]string{"queued": {"testing"}, "testing": {"merged"}}},
		batchstate.WithClock(func() time.Time { return now }))
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := queue.Create(ctx, storage.Batch{Queue: "main", ID: "b1", State: "queued"})
	now = now.Add(time.Minute)
	queue.Transition(ctx, b, "testing")
	e, _ := queue.Explain(ctx, "main", "b1")
	fmt.Print(e)
	// Output:
	// batch b1 of queue main is testing (version 2)
	//   listed in: testing
	//   state queued (version 1, added 2026-03-04T09:00:00Z): left by a move out of it (the batch's version is past the row's): Reconcile removes it
	//   state testing (version 2, added 2026-03-04T09:01:00Z): live
}
