package dynamo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/storage"
)

// designDoc is the design document holding the classification tables.
const designDoc = "../../docs/design.md"

// matrix is what every store method answers on DynamoDB when each failure
// kind happens below the store (see netfault.Matrix), as the table in
// docs/design.md says.
var matrix = netfault.Matrix{
	"refused connection":                         {"U", "U, not written", "U, not written", "U, not written", "U, not written"},
	"dial timeout":                               {"U", "U, not written", "U, not written", "U, not written", "U, not written"},
	"reset before the request was sent":          {"ok", "ok, written", "ok, written", "A+U, not written", "A+U, not written"},
	"response lost after the write applied":      {"ok", "ok, written", "ok, written", "A+U, written", "A+U, written"},
	"damaged response":                           {"U", "A+U, written", "A+U, written", "A+U, written", "A+U, written"},
	"server error, rolled back":                  {"U", "A+U, not written", "A+U, not written", "A+U, not written", "A+U, not written"},
	"server lock timeout":                        {"n/a", "n/a", "n/a", "n/a", "n/a"},
	"server statement timeout":                   {"n/a", "n/a", "n/a", "n/a", "n/a"},
	"throttled on every attempt":                 {"U", "U, not written", "U, not written", "U, not written", "U, not written"},
	"throttled, then served":                     {"ok", "ok, written", "ok, written", "ok, written", "ok, written"},
	"non-retryable error after a landed attempt": {"native", "A, written", "A, written", "A+U, written", "A+U, written"},
	"transport's own timeout":                    {"U", "A+U, not written", "A+U, not written", "A+U, not written", "A+U, not written"},
	"caller's context ended before sending":      {"ctx", "ctx, not written", "ctx, not written", "ctx, not written", "ctx, not written"},
	"caller's context ended in flight":           {"ctx", "A+ctx, either", "A+ctx, either", "A+ctx, either", "A+ctx, either"},
}

// client returns a store on f's tables through a new client for endpoint
// whose HTTP client is hc, with the SDK's standard retries (3 attempts,
// short backoff).
func clientAt(t *testing.T, f fixture, endpoint string, hc dynamodb.HTTPClient) storage.Store {
	t.Helper()
	s, err := New(quickRetries(newClient(endpoint, func(dynamodb.HTTPClient) dynamodb.HTTPClient { return hc }, 0)), f.opts...)
	require.NoError(t, err)
	return s
}

// TestClassification runs every failure kind that can happen below a
// DynamoDB store against every store method and checks each answer, and
// whether the write landed, against the documented matrix; the test logs
// one line for make test.
func TestClassification(t *testing.T) {
	f := newFixture(t, nil)
	bg := context.Background()
	// seq returns a Decide that picks kinds[i] for the i-th request of the
	// call's first operation (the last kind for every later one; "" to
	// forward), and forwards every other request.
	seq := func(c netfault.Call, kinds ...netfault.Kind) func(string) netfault.Kind {
		var n atomic.Int32
		return func(op string) netfault.Kind {
			if op != c.Op {
				return ""
			}
			return kinds[min(int(n.Add(1))-1, len(kinds)-1)]
		}
	}
	with := func(t *testing.T, c netfault.Call, kinds ...netfault.Kind) storage.Store {
		s, _ := faulty(t, f, seq(c, kinds...), true)
		return s
	}
	faults := []netfault.Fault{
		{Kind: "refused connection", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			endpoint := "http://" + ln.Addr().String()
			require.NoError(t, ln.Close())
			return clientAt(t, f, endpoint, awshttp.NewBuildableClient()), bg, nil
		}},
		{Kind: "dial timeout", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			addr, closeFn, err := netfault.Blackhole()
			require.NoError(t, err)
			t.Cleanup(closeFn)
			hc := awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) { d.Timeout = 100 * time.Millisecond })
			return clientAt(t, f, "http://"+addr, hc), bg, nil
		}},
		{Kind: "reset before the request was sent", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return with(t, c, netfault.ResetBefore, ""), bg, nil
		}},
		{Kind: "response lost after the write applied", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return with(t, c, netfault.DropResponse, ""), bg, nil
		}},
		{Kind: "damaged response", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return with(t, c, netfault.Damage, ""), bg, nil
		}},
		{Kind: "server error, rolled back", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return with(t, c, netfault.ServerError), bg, nil
		}},
		{Kind: "throttled on every attempt", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return with(t, c, netfault.Throttle), bg, nil
		}},
		{Kind: "throttled, then served", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return with(t, c, netfault.Throttle, ""), bg, nil
		}},
		{Kind: "non-retryable error after a landed attempt", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			return with(t, c, netfault.DropResponse, netfault.Deny), bg, nil
		}},
		{Kind: "transport's own timeout", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			// The HTTP client's timeout, the caller's context without a
			// deadline, an endpoint that never answers.
			addr, closeFn, err := netfault.Silent()
			require.NoError(t, err)
			t.Cleanup(closeFn)
			return clientAt(t, f, "http://"+addr, awshttp.NewBuildableClient().WithTimeout(200*time.Millisecond)), bg, nil
		}},
		{Kind: "caller's context ended before sending", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			ctx, cancel := context.WithCancel(bg)
			cancel()
			return with(t, c, ""), ctx, nil
		}},
		{Kind: "caller's context ended in flight", Arm: func(t *testing.T, c netfault.Call) (storage.Store, context.Context, func()) {
			s, tr := faulty(t, f, seq(c, netfault.Delay, ""), true)
			tr.DelayFor = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
			t.Cleanup(cancel)
			return s, ctx, func() { time.Sleep(tr.DelayFor) }
		}},
	}
	netfault.Classification(t, "dynamo", designDoc, f.store, matrix, faults)
}

// A compare-and-swap of a missing row whose condition fails, the row then
// created (at the expected version) before the store reads it back: no
// order of the two calls makes that a conflict (before the create:
// ErrNotFound; after it: success). The store runs the write again and it
// lands — with the stored item in the condition failure (as DynamoDB
// answers: none, for a missing row) and without it (emulators).
func TestUpdateRacingACreateIsNotAConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	updates := map[string]func(s *Store) (int64, error){
		"UpdateBatch": func(s *Store) (int64, error) {
			b, err := s.UpdateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "running"}, 1, "queued")
			return b.Version, err
		},
		"UpdateApply": func(s *Store) (int64, error) {
			a, err := s.UpdateApply(ctx, storage.Apply{ID: "a", State: "running"}, 1)
			return a.Version, err
		},
		"UpdateOperation": func(s *Store) (int64, error) {
			op, err := s.UpdateOperation(ctx, storage.Operation{ApplyID: "a", ID: "o", State: "running"}, 1)
			return op.Version, err
		},
	}
	creates := map[string]func(s *Store) error{
		"UpdateBatch": func(s *Store) error {
			_, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
			return err
		},
		"UpdateApply": func(s *Store) error {
			_, err := s.CreateApply(ctx, storage.Apply{ID: "a", State: "pending"})
			return err
		},
		"UpdateOperation": func(s *Store) error {
			_, err := s.CreateOperation(ctx, storage.Operation{ApplyID: "a", ID: "o", State: "pending"})
			return err
		},
	}
	for name, update := range updates {
		for _, oldItem := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/oldItem=%v", name, oldItem), func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, nil)
				// The create lands just before the store's read-back.
				s, _ := faulty(t, f, firstOf("GetItem", "", func() { require.NoError(t, creates[name](f.store)) }), oldItem)
				v, err := update(s)
				require.NoError(t, err, "the row read back is the one expected: the write is run again")
				require.Equal(t, int64(2), v)
			})
		}
	}
}

// A dial that times out (the endpoint's accept queue is full, so every
// SYN is dropped: not left to chance) sent nothing: every call is
// ErrUnavailable alone, never a plain error or ambiguous, whatever
// context.DeadlineExceeded the dial's error matches, and each returns
// within the SDK's 3 attempts of 100ms.
func TestDialTimeoutIsUnavailable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	addr, closeFn, err := netfault.Blackhole()
	require.NoError(t, err)
	t.Cleanup(closeFn)
	hc := awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) { d.Timeout = 100 * time.Millisecond })
	s := clientAt(t, f, "http://"+addr, hc).(*Store)
	ctx := context.Background()
	calls := someWrites(ctx, s)
	calls["read"] = func() error { _, err := s.GetBatch(ctx, "q", "b"); return err }
	for name, call := range calls {
		start := time.Now()
		err := call()
		require.Less(t, time.Since(start), 2*time.Second, name)
		netfault.Unavailable(t, err, "%s: the dial timed out, nothing was sent", name)
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout(), "%s: %v", name, err)
	}
}
