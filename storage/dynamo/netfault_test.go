package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
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
	client := newClient(server.endpoint, func(base dynamodb.HTTPClient) dynamodb.HTTPClient { tr.Base = base; return tr }, 0)
	// The SDK's standard retryer (3 attempts), with a short backoff and no
	// client-side retry quota, so that a test is not spent waiting.
	client = dynamodb.New(client.Options(), func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			so.RateLimiter = ratelimit.None
		})
	})
	s, err := New(client, f.opts...)
	require.NoError(t, err)
	return s, tr
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

// A retry that meets another caller's write cannot tell whether its own
// first attempt landed: ErrAmbiguous, never a plain conflict or a success.
// Without a retry, a conflict is exactly ErrConflict.
func TestRetryMeetingAnotherWriteIsAmbiguous(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	b, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
	require.NoError(t, err)
	// The first attempt is throttled (not forwarded); before it, another
	// caller moves the batch. The SDK's retry then fails its condition.
	s, _ := faulty(t, f, firstOf("PutItem", netfault.Throttle, func() {
		other := b
		other.State = "merging"
		_, err := f.store.UpdateBatch(ctx, other, 1, "queued")
		require.NoError(t, err)
	}), true)
	mine := b
	mine.State = "running"
	_, err = s.UpdateBatch(ctx, mine, 1, "queued")
	require.ErrorIs(t, err, storage.ErrAmbiguous)
	require.NotErrorIs(t, err, storage.ErrConflict)

	_, err = s.UpdateBatch(ctx, mine, 1, "queued") // no retry now: a plain lost race
	require.ErrorIs(t, err, storage.ErrConflict)
	require.NotErrorIs(t, err, storage.ErrAmbiguous)
}

// Throttling and server errors that outlast the SDK's retries are
// ErrUnavailable, a write's also ErrAmbiguous; the native error stays
// reachable.
func TestTransientFailuresAreClassified(t *testing.T) {
	t.Parallel()
	for _, kind := range []netfault.Kind{netfault.Throttle, netfault.ServerError} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			ctx := context.Background()
			s, tr := faulty(t, f, func(string) netfault.Kind { return kind }, false)
			_, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
			require.ErrorIs(t, err, storage.ErrUnavailable)
			require.ErrorIs(t, err, storage.ErrAmbiguous, "a write that may have landed")
			var api smithy.APIError
			require.True(t, errors.As(err, &api), "%v", err)
			_, err = s.GetBatch(ctx, "q", "b")
			require.ErrorIs(t, err, storage.ErrUnavailable)
			require.NotErrorIs(t, err, storage.ErrAmbiguous, "a read changes nothing")
			require.GreaterOrEqual(t, tr.Counts()[kind], 6, "the SDK retried each call")
		})
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
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(7, 11))
	decide := func(op string) netfault.Kind {
		mu.Lock()
		defer mu.Unlock()
		r := rng.Float64()
		write := op == "PutItem" || op == "DeleteItem"
		switch {
		case write && r < 0.12:
			return netfault.DropResponse
		case r < 0.17:
			return netfault.Throttle
		case r < 0.21:
			return netfault.ServerError
		case r < 0.23:
			return netfault.Delay
		}
		return ""
	}
	s, tr := faulty(t, f, decide, true)
	tr.DelayFor = 5 * time.Millisecond
	// Faults at random make a schedule's store calls differ from run to
	// run, so the search runs random schedules only.
	x := storagetest.Exploration{Random: 1000, Seed: 3, Parallel: 4, Budget: 60 * time.Second}
	if testing.Short() {
		x.Budget = 10 * time.Second
	}
	schedules, violations := storagetest.ExploreAllWith(t, f.store, s, x)
	counts := tr.Counts()
	total, kinds := netfault.Summary(counts)
	t.Logf("network faults on dynamo: %d injected (%s), %d violations, %d schedules", total, kinds, violations, schedules)
	require.Positive(t, counts[netfault.DropResponse], "lost responses were injected")
	require.Positive(t, total)
}

// A history of concurrent creates, reads, compare-and-swaps, member
// upserts, removals and listings through the faults is linearizable
// against the store contract (a write that failed after it may have been
// sent counts as possibly applied). The test logs one line for make test.
func TestLinearizable(t *testing.T) {
	f := newFixture(t, nil)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(13, 17))
	s, tr := faulty(t, f, func(op string) netfault.Kind {
		mu.Lock()
		defer mu.Unlock()
		switch r := rng.Float64(); {
		case r < 0.10:
			return netfault.DropResponse
		case r < 0.15:
			return netfault.Throttle
		case r < 0.20:
			return netfault.ServerError
		}
		return ""
	}, true)
	counts := tr.Counts
	res, err := storagetest.CheckLinearizable(context.Background(), s, storagetest.LinearizabilityConfig{Clients: 6, Operations: 80, Seed: 5})
	require.NoError(t, err)
	faults, _ := netfault.Summary(counts())
	verdict := "ok"
	if !res.Linearizable {
		verdict = fmt.Sprintf("NOT linearizable (check unknown: %v)", res.Unknown)
	}
	t.Logf("linearizable on dynamo: %d operations, %d faults, %s (%d possibly applied, %d failed reads left out)",
		res.Operations, faults, verdict, res.Ambiguous, res.Dropped)
	require.True(t, res.Linearizable, "%+v", res)
	require.Positive(t, faults, "faults were injected")
}
