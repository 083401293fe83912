package dynamo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/storage"
)

// faulty returns a store on f's tables whose client sends every request
// through a fault-injecting transport (below the SDK, so the SDK's retries
// see the faults), answering failed conditions with the stored item as
// DynamoDB does when oldItem is set.
func faulty(t *testing.T, f fixture, decide func(op string) netfault.Kind, oldItem bool) (*Store, *netfault.Transport) {
	t.Helper()
	tr := &netfault.Transport{Decide: decide}
	if oldItem {
		names := f.store.Tables()
		keys := map[string][]string{
			names.Batches: {attrQueue, attrID}, names.Members: {attrQueue, attrSort},
			names.Applies: {attrID}, names.Operations: {attrApplyID, attrID},
		}
		tr.KeyNames = func(table string) []string { return keys[table] }
	}
	client := quickRetries(newClient(server.endpoint, func(base dynamodb.HTTPClient) dynamodb.HTTPClient { tr.Base = base; return tr }, 0))
	s, err := New(client, f.opts...)
	require.NoError(t, err)
	return s, tr
}

// someWrites returns a create of batch q/b, an upsert of its member row
// and a removal of another's, by name: the three kinds of write a fault
// test classifies.
func someWrites(ctx context.Context, s *Store) map[string]func() error {
	return map[string]func() error{
		"create": func() error {
			_, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
			return err
		},
		"add member": func() error {
			return s.AddMember(ctx, storage.Member{Queue: "q", State: "queued", BatchID: "b", Version: 1})
		},
		"remove member": func() error { return s.RemoveMember(ctx, "q", "queued", "a", 1) },
	}
}

// quickRetries returns client with the SDK's standard retryer (3
// attempts), a short backoff and no client-side retry quota, so that a
// test is not spent waiting.
func quickRetries(client *dynamodb.Client) *dynamodb.Client {
	return dynamodb.New(client.Options(), func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			so.RateLimiter = ratelimit.None
		})
	})
}

// firstOf returns a Decide that injects kind into the first request of op
// (after running before, if any) and forwards everything else.
func firstOf(op string, kind netfault.Kind, before func()) func(string) netfault.Kind {
	var done atomic.Bool
	return func(o string) netfault.Kind {
		if o != op || done.Swap(true) {
			return ""
		}
		if before != nil {
			before()
		}
		return kind
	}
}

// A write whose response is lost lands, and the SDK's retry fails its
// condition on the write's own row: the store recognizes its write and
// reports success — with the stored item in the condition failure (as
// DynamoDB answers) and without it (read back, as on emulators).
func TestRetriedWriteThatLandedIsASuccess(t *testing.T) {
	t.Parallel()
	for _, oldItem := range []bool{true, false} {
		t.Run(fmt.Sprintf("oldItem=%v", oldItem), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			ctx := context.Background()
			s, tr := faulty(t, f, firstOf("PutItem", netfault.DropResponse, nil), oldItem)
			b, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued", Payload: []byte("p")})
			require.NoError(t, err, "the create landed on the first attempt")
			require.Equal(t, 1, tr.Counts()[netfault.DropResponse])

			s, tr = faulty(t, f, firstOf("PutItem", netfault.DropResponse, nil), oldItem)
			b.State = "running"
			got, err := s.UpdateBatch(ctx, b, 1, "queued")
			require.NoError(t, err, "the compare-and-swap landed on the first attempt")
			require.Equal(t, int64(2), got.Version)
			require.Equal(t, 1, tr.Counts()[netfault.DropResponse])
			if oldItem {
				require.Equal(t, 1, tr.Counts()[netfault.OldItem], "the condition failure carried the stored item")
			}
			stored, err := f.store.GetBatch(ctx, "q", "b")
			require.NoError(t, err)
			require.Equal(t, "running", stored.State)
		})
	}
}

// A retry that meets another caller's write, after an attempt that may
// have landed (a server error), cannot tell whether its own write landed:
// ErrAmbiguous, never a plain conflict or a success. After an attempt
// DynamoDB throttled (it did not run) it is a plain lost race: ErrConflict.
// Without a retry, a conflict is exactly ErrConflict.
func TestRetryMeetingAnotherWrite(t *testing.T) {
	t.Parallel()
	for _, kind := range []netfault.Kind{netfault.ServerError, netfault.Throttle} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			ctx := context.Background()
			b, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
			require.NoError(t, err)
			// The first attempt fails (not forwarded); before it, another
			// caller moves the batch. The SDK's retry then fails its
			// condition.
			s, tr := faulty(t, f, firstOf("PutItem", kind, func() {
				other := b
				other.State = "merging"
				_, err := f.store.UpdateBatch(ctx, other, 1, "queued")
				require.NoError(t, err)
			}), true)
			mine := b
			mine.State = "running"
			_, err = s.UpdateBatch(ctx, mine, 1, "queued")
			require.Equal(t, 1, tr.Counts()[kind])
			if kind == netfault.ServerError {
				require.ErrorIs(t, err, storage.ErrAmbiguous, "the failed attempt may have landed")
				require.NotErrorIs(t, err, storage.ErrConflict)
			} else {
				require.ErrorIs(t, err, storage.ErrConflict, "a throttled attempt did not run")
				require.NotErrorIs(t, err, storage.ErrAmbiguous)
			}

			_, err = s.UpdateBatch(ctx, mine, 1, "queued") // no retry now: a plain lost race
			require.ErrorIs(t, err, storage.ErrConflict)
			require.NotErrorIs(t, err, storage.ErrAmbiguous)
		})
	}
}

// Throttling and server errors that outlast the SDK's retries are
// ErrUnavailable, with the native error reachable. A write is also
// ErrAmbiguous when an attempt may have landed (a server error, a lost
// response) — not when DynamoDB throttled every attempt (none ran, nothing
// is written); member writes, sent without the SDK's retries, alike.
func TestTransientFailuresAreClassified(t *testing.T) {
	t.Parallel()
	for _, kind := range []netfault.Kind{netfault.Throttle, netfault.ServerError} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			ctx := context.Background()
			s, tr := faulty(t, f, func(string) netfault.Kind { return kind }, false)
			for name, write := range someWrites(ctx, s) {
				err := write()
				if kind == netfault.Throttle {
					netfault.Unavailable(t, err, "%s: every attempt was throttled", name)
				} else {
					netfault.Ambiguous(t, err, "%s: a write that may have landed", name)
				}
				var api smithy.APIError
				require.True(t, errors.As(err, &api), "%s: %v", name, err)
			}
			_, err := s.GetBatch(ctx, "q", "b")
			netfault.Unavailable(t, err, "a read changes nothing")
			require.GreaterOrEqual(t, tr.Counts()[kind], 8, "the create and the read were tried again")
			_, err = f.store.GetBatch(ctx, "q", "b")
			require.ErrorIs(t, err, storage.ErrNotFound, "nothing was written")
			members, err := f.store.ListMembers(ctx, "q", "queued")
			require.NoError(t, err)
			require.Empty(t, members)
		})
	}
}

// A create whose first attempt landed but lost its response, and whose
// retries DynamoDB throttled, is ambiguous (it did land), not merely
// unavailable.
func TestLandedThenThrottledIsAmbiguous(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	var n atomic.Int32
	s, tr := faulty(t, f, func(op string) netfault.Kind {
		if op != "PutItem" {
			return ""
		}
		if n.Add(1) == 1 {
			return netfault.DropResponse
		}
		return netfault.Throttle
	}, false)
	_, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
	require.ErrorIs(t, err, storage.ErrAmbiguous)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.Equal(t, 1, tr.Counts()[netfault.DropResponse])
	require.Positive(t, tr.Counts()[netfault.Throttle])
	_, err = f.store.GetBatch(ctx, "q", "b")
	require.NoError(t, err, "the first attempt landed")
}

// A write whose context ends while its request is held may have been
// sent (the store cannot tell): its error matches ErrAmbiguous and the
// context's, not a plain context error.
func TestCanceledWriteIsAmbiguous(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	var on atomic.Bool
	s, tr := faulty(t, f, func(op string) netfault.Kind {
		if op == "PutItem" && on.Swap(false) {
			return netfault.Delay
		}
		return ""
	}, false)
	tr.DelayFor = 300 * time.Millisecond
	netfault.CanceledWrite(t, s, f.store, func() { on.Store(true) }, tr.DelayFor)
	require.Equal(t, 1, tr.Counts()[netfault.Delay])
}

// An endpoint that refuses connections: no attempt was sent, so a write's
// error is ErrUnavailable alone, not ambiguous, with the dial's error
// reachable.
func TestRefusedEndpointIsUnavailable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	endpoint := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	s, err := New(quickRetries(newClient(endpoint, nil, 0)))
	require.NoError(t, err)
	ctx := context.Background()
	for name, write := range someWrites(ctx, s) {
		err := write()
		netfault.Unavailable(t, err, "%s: a refused connection sent nothing", name)
		require.ErrorIs(t, err, syscall.ECONNREFUSED, name)
	}
}

// The explorer's scenarios — batchstate and applystate under every
// schedule within the bounds — with the actors' calls going through a
// client that loses responses (the SDK retries them), throttles, fails
// and delays requests at random, and answers failed conditions with the
// stored item. Setup and checks read the tables directly. The invariants
// hold; the test logs one line for make test.
func TestNetworkFaults(t *testing.T) {
	f := newFixture(t, nil)
	writes := netfault.Random(7, 11, netfault.Odds{Kind: netfault.DropResponse, Chance: 0.12},
		netfault.Odds{Kind: netfault.Throttle, Chance: 0.05}, netfault.Odds{Kind: netfault.ServerError, Chance: 0.04},
		netfault.Odds{Kind: netfault.Delay, Chance: 0.02})
	reads := netfault.Random(7, 13, netfault.Odds{Kind: netfault.Throttle, Chance: 0.17},
		netfault.Odds{Kind: netfault.ServerError, Chance: 0.04}, netfault.Odds{Kind: netfault.Delay, Chance: 0.02})
	s, tr := faulty(t, f, func(op string) netfault.Kind {
		if op == "PutItem" || op == "DeleteItem" {
			return writes()
		}
		return reads()
	}, true)
	tr.DelayFor = 5 * time.Millisecond
	counts := netfault.Explore(t, "dynamo", f.store, s, tr.Counts, 60*time.Second)
	require.Positive(t, counts[netfault.DropResponse], "lost responses were injected")
}

// A history of concurrent calls through lost responses, throttling,
// server errors, requests reset before they were sent, damaged responses
// and refused access is linearizable; the test logs one line for make
// test.
func TestLinearizable(t *testing.T) {
	f := newFixture(t, nil)
	decide := netfault.Random(13, 17, netfault.Odds{Kind: netfault.DropResponse, Chance: 0.10},
		netfault.Odds{Kind: netfault.Throttle, Chance: 0.05}, netfault.Odds{Kind: netfault.ServerError, Chance: 0.05},
		netfault.Odds{Kind: netfault.ResetBefore, Chance: 0.04}, netfault.Odds{Kind: netfault.Damage, Chance: 0.03},
		netfault.Odds{Kind: netfault.Deny, Chance: 0.01})
	s, tr := faulty(t, f, func(string) netfault.Kind { return decide() }, true)
	netfault.Linearizable(t, "dynamo", s, tr.Counts)
}
