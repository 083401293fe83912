package dynamo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
)

// recorder is an HTTP client wrapper that counts DynamoDB operations and
// can rewrite BatchGetItem responses.
type recorder struct {
	base dynamodb.HTTPClient

	mu  sync.Mutex
	ops map[string]int
	// unprocess, if set, returns how many of a BatchGetItem response's items
	// to turn into UnprocessedKeys, given the call number (1-based).
	unprocess func(call, items int) int
	// oldItem, if set, is added as the Item of every PutItem condition
	// failure, as DynamoDB does for ReturnValuesOnConditionCheckFailure.
	oldItem map[string]any
	// puts are the PutItem request bodies.
	puts []string
	// batchGets, if above 0, holds each BatchGetItem until that many are in
	// flight (or a few seconds pass); inflight and maxInflight count them.
	batchGets, inflight, maxInflight int
	arrived                          chan struct{}
}

// hold blocks a BatchGetItem until r.batchGets are in flight.
func (r *recorder) hold() (release func()) {
	r.mu.Lock()
	r.inflight++
	r.maxInflight = max(r.maxInflight, r.inflight)
	if r.arrived == nil {
		r.arrived = make(chan struct{})
	}
	arrived := r.arrived
	if r.inflight == r.batchGets {
		close(arrived)
	}
	r.mu.Unlock()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
	}
	return func() { r.mu.Lock(); r.inflight--; r.mu.Unlock() }
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	op := strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	r.mu.Lock()
	if r.ops == nil {
		r.ops = map[string]int{}
	}
	r.ops[op]++
	call := r.ops[op]
	r.mu.Unlock()
	if op == "PutItem" && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.mu.Lock()
		r.puts = append(r.puts, string(body))
		r.mu.Unlock()
	}
	if op == "BatchGetItem" && r.batchGets > 0 {
		defer r.hold()()
	}
	res, err := r.base.Do(req)
	if err == nil && op == "PutItem" && r.oldItem != nil && res.StatusCode == http.StatusBadRequest {
		return addOldItem(res, r.oldItem)
	}
	if err != nil || op != "BatchGetItem" || r.unprocess == nil || res.StatusCode != http.StatusOK {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	var out struct {
		Responses       map[string][]map[string]json.RawMessage `json:"Responses"`
		UnprocessedKeys map[string]map[string]any               `json:"UnprocessedKeys"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	for table, items := range out.Responses {
		n := min(r.unprocess(call, len(items)), len(items))
		if n == 0 {
			continue
		}
		var keys []map[string]json.RawMessage
		for _, it := range items[len(items)-n:] {
			keys = append(keys, map[string]json.RawMessage{attrQueue: it[attrQueue], attrID: it[attrID]})
		}
		out.Responses[table] = items[:len(items)-n]
		out.UnprocessedKeys = map[string]map[string]any{table: {"Keys": keys}}
	}
	body, err = json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return setBody(res, body), nil
}

// setBody replaces a response's body, with a matching length and checksum.
func setBody(res *http.Response, body []byte) *http.Response {
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Set("Content-Length", strconv.Itoa(len(body)))
	res.Header.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	return res
}

// addOldItem adds item to a ConditionalCheckFailedException response.
func addOldItem(res *http.Response, item map[string]any) (*http.Response, error) {
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	if typ, _ := out["__type"].(string); strings.HasSuffix(typ, "ConditionalCheckFailedException") {
		out["Item"] = item
	}
	if body, err = json.Marshal(out); err != nil {
		return nil, err
	}
	return setBody(res, body), nil
}

func (r *recorder) count(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops[op]
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.ops = map[string]int{}
	r.mu.Unlock()
}

func withRecorder(unprocess func(call, items int) int) (*recorder, func(dynamodb.HTTPClient) dynamodb.HTTPClient) {
	r := &recorder{unprocess: unprocess}
	return r, func(base dynamodb.HTTPClient) dynamodb.HTTPClient { r.base = base; return r }
}

func seedBatches(t *testing.T, s *Store, queue string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("b%03d", i)
		_, err := s.CreateBatch(context.Background(), storage.Batch{Queue: queue, ID: ids[i], State: "s"})
		require.NoError(t, err)
	}
	return ids
}

func TestGetBatchesChunksOf100(t *testing.T) {
	t.Parallel()
	rec, hc := withRecorder(nil)
	f := newFixture(t, hc)
	ids := seedBatches(t, f.store, "q", 250)
	for _, n := range []int{1, DefaultChunkConcurrency} {
		rec.reset()
		s, err := New(f.client, append(f.opts, WithChunkConcurrency(n))...)
		require.NoError(t, err)
		got, err := s.GetBatches(context.Background(), "q", append(ids, ids[:20]...))
		require.NoError(t, err)
		require.Len(t, got, 250)
		seen := map[string]bool{}
		for _, b := range got {
			seen[b.ID] = true
		}
		require.Len(t, seen, 250, "each row once")
		require.Equal(t, 3, rec.count("BatchGetItem"), "250 distinct ids in chunks of 100")
	}
}

// Chunks are read concurrently, up to WithChunkConcurrency at a time.
func TestGetBatchesConcurrentChunks(t *testing.T) {
	t.Parallel()
	rec, hc := withRecorder(nil)
	f := newFixture(t, hc, WithChunkConcurrency(3))
	ids := seedBatches(t, f.store, "q", 250)
	rec.mu.Lock()
	rec.batchGets = 3
	rec.mu.Unlock()
	got, err := f.store.GetBatches(context.Background(), "q", ids)
	require.NoError(t, err)
	require.Len(t, got, 250)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Equal(t, 3, rec.maxInflight, "the three chunks were in flight together")
}

func TestUnprocessedKeysAreRetried(t *testing.T) {
	t.Parallel()
	rec, hc := withRecorder(func(call, items int) int {
		if call == 1 {
			return items / 2 // the first response leaves half unprocessed
		}
		return 0
	})
	f := newFixture(t, hc, WithUnprocessedKeysBackoff(time.Millisecond, 5*time.Millisecond, 5))
	ids := seedBatches(t, f.store, "q", 40)
	rec.reset()
	got, err := f.store.GetBatches(context.Background(), "q", ids)
	require.NoError(t, err)
	require.Len(t, got, 40, "every row comes back")
	require.Equal(t, 2, rec.count("BatchGetItem"), "one retry for the unprocessed keys")
}

func TestUnprocessedKeysGiveUp(t *testing.T) {
	t.Parallel()
	_, hc := withRecorder(func(call, items int) int { return items })
	f := newFixture(t, hc, WithUnprocessedKeysBackoff(time.Millisecond, 2*time.Millisecond, 3))
	ids := seedBatches(t, f.store, "q", 5)
	_, err := f.store.GetBatches(context.Background(), "q", ids)
	require.ErrorIs(t, err, ErrUnprocessed)
	require.ErrorIs(t, err, storage.ErrUnavailable, "unprocessed keys are throttling")

	slow, err := New(f.client, append(f.opts, WithUnprocessedKeysBackoff(time.Hour, time.Hour, 10))...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = slow.GetBatches(ctx, "q", ids)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the backoff honours the context")
}

func TestNativeErrorsStayReachable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	b, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "s"})
	require.NoError(t, err)
	_, err = f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "s"})
	require.ErrorIs(t, err, storage.ErrAlreadyExists)
	var ccf *types.ConditionalCheckFailedException
	require.True(t, errors.As(err, &ccf))
	_, err = f.store.UpdateBatch(ctx, b, 7, "s")
	require.ErrorIs(t, err, storage.ErrConflict)
	require.True(t, errors.As(err, &ccf))
	_, err = f.store.UpdateBatch(ctx, b, 1, "other")
	require.ErrorIs(t, err, storage.ErrConflict, "the right version in another state")
	require.True(t, errors.As(err, &ccf))
	_, err = f.store.UpdateBatch(ctx, storage.Batch{Queue: "q", ID: "nope", State: "s"}, 1, "s")
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.NotErrorIs(t, err, storage.ErrConflict)

	require.NoError(t, f.store.AddMember(ctx, storage.Member{Queue: "q", State: "s", BatchID: "b", Version: 3}))
	err = f.store.AddMember(ctx, storage.Member{Queue: "q", State: "s", BatchID: "b", Version: 2})
	require.ErrorIs(t, err, storage.ErrConflict, "a higher version is stored")
	require.True(t, errors.As(err, &ccf))
}

// A stale compare-and-swap asks for the stored item; when it comes back
// with the condition failure no read follows, and when it does not (dynalite
// ignores the parameter) one consistent read tells conflict from missing.
func TestConflictUsesReturnedItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("item returned", func(t *testing.T) {
		t.Parallel()
		rec, hc := withRecorder(nil)
		rec.oldItem = map[string]any{attrQueue: map[string]string{"S": "q"}, attrID: map[string]string{"S": "b"}, attrVersion: map[string]string{"N": "1"}}
		f := newFixture(t, hc)
		b, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "s"})
		require.NoError(t, err)
		rec.reset()
		_, err = f.store.UpdateBatch(ctx, b, 7, "s")
		require.ErrorIs(t, err, storage.ErrConflict)
		var ccf *types.ConditionalCheckFailedException
		require.ErrorAs(t, err, &ccf)
		require.NotNil(t, ccf.Item)
		require.Zero(t, rec.count("GetItem"), "the returned item decides, no read back")
		rec.mu.Lock()
		last := rec.puts[len(rec.puts)-1]
		rec.mu.Unlock()
		require.Contains(t, last, `"ReturnValuesOnConditionCheckFailure":"ALL_OLD"`)
	})

	t.Run("no item returned", func(t *testing.T) {
		t.Parallel()
		rec, hc := withRecorder(nil)
		f := newFixture(t, hc)
		b, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "s"})
		require.NoError(t, err)
		rec.reset()
		_, err = f.store.UpdateBatch(ctx, b, 7, "s")
		require.ErrorIs(t, err, storage.ErrConflict)
		require.ErrorContains(t, err, `stored version 1, state "s"`)
		_, err = f.store.UpdateBatch(ctx, b, 1, "t")
		require.ErrorIs(t, err, storage.ErrConflict, "the right version in another state")
		require.ErrorContains(t, err, `stored version 1, state "s"`)
		_, err = f.store.UpdateBatch(ctx, storage.Batch{Queue: "q", ID: "gone", State: "s"}, 1, "s")
		require.ErrorIs(t, err, storage.ErrNotFound)
		require.NotErrorIs(t, err, storage.ErrConflict)
		require.Equal(t, 3, rec.count("GetItem"), "one consistent read per failed condition")
		got, err := f.store.GetBatch(ctx, "q", "b")
		require.NoError(t, err)
		require.Equal(t, b, got, "the lost compare-and-swap wrote nothing")
	})
}

func TestCreateTablesIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	require.NoError(t, CreateTables(context.Background(), f.client, f.opts...))
	_, err := f.store.CreateApply(context.Background(), storage.Apply{ID: "a", State: "pending"})
	require.NoError(t, err)
}

// A Query returns at most 1 MB per page; ListOperations follows
// LastEvaluatedKey to the end.
func TestQueryFollowsPages(t *testing.T) {
	t.Parallel()
	rec, hc := withRecorder(nil)
	f := newFixture(t, hc)
	ctx := context.Background()
	payload := bytes.Repeat([]byte{0xab}, 200<<10)
	for i := range 8 { // about 1.6 MB in one partition
		_, err := f.store.CreateOperation(ctx, storage.Operation{ApplyID: "a", ID: fmt.Sprintf("op%d", i), Seq: int64(i), State: "pending", Payload: payload})
		require.NoError(t, err)
	}
	rec.reset()
	ops, err := f.store.ListOperations(ctx, "a")
	require.NoError(t, err)
	require.Len(t, ops, 8)
	for _, op := range ops {
		require.Equal(t, payload, op.Payload)
	}
	require.GreaterOrEqual(t, rec.count("Query"), 2, "more than one page")
}

// CreateTables reports an existing table with other keys instead of
// leaving every later write to fail.
func TestCreateTablesChecksKeySchema(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	names := TableNames{Batches: strings.TrimSuffix(f.store.Tables().Batches, "batches") + "other"}
	_, err := f.client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(names.Batches),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("queue"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("queue"), AttributeType: types.ScalarAttributeTypeS}},
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = f.client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(names.Batches)})
	})
	opts := append(append([]Option{}, f.opts...), WithTableNames(names))
	err = CreateTables(ctx, f.client, opts...)
	require.ErrorIs(t, err, ErrTableSchema)
	require.ErrorContains(t, err, names.Batches)
	require.NoError(t, CreateTables(ctx, f.client, f.opts...), "the right tables pass")
}

// Only key-addressed operations are used: no Scan, no transactions, no
// index queries.
func TestOnlyKeyedOperations(t *testing.T) {
	t.Parallel()
	rec, hc := withRecorder(nil)
	f := newFixture(t, hc)
	ctx := context.Background()
	rec.reset()
	o, err := batchstate.New(f.store, f.store, batchstate.Machine{States: []string{"a", "b", "z"}, Terminal: []string{"z"}})
	require.NoError(t, err)
	b, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "a"})
	require.NoError(t, err)
	b, err = o.Transition(ctx, b, "b")
	require.NoError(t, err)
	_, err = o.List(ctx, "q", "a", "b")
	require.NoError(t, err)
	_, err = o.Reconcile(ctx, "q")
	require.NoError(t, err)
	_, err = o.Transition(ctx, b, "z")
	require.NoError(t, err)
	_, err = f.store.ListOperations(ctx, "a")
	require.NoError(t, err)
	allowed := map[string]bool{"GetItem": true, "PutItem": true, "DeleteItem": true, "Query": true, "BatchGetItem": true}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.NotEmpty(t, rec.ops)
	for op := range rec.ops {
		require.True(t, allowed[op], "operation %s", op)
	}
}

// An unreachable endpoint is reported after one attempt, with a message
// naming the variable, instead of hanging in retries.
func TestProbeUnreachableEndpoint(t *testing.T) {
	t.Parallel()
	rec, hc := withRecorder(nil)
	err := probe(context.Background(), "http://127.0.0.1:1", hc)
	require.Error(t, err)
	require.ErrorContains(t, err, endpointEnv)
	require.Equal(t, 1, rec.count("ListTables"), "no retries")
}

func TestInvalidConfiguration(t *testing.T) {
	t.Parallel()
	client := newClient("http://127.0.0.1:1", nil, 1)
	for _, opt := range []Option{
		WithTablePrefix("bad prefix"),
		WithTablePrefix(strings.Repeat("p", 201)),
		WithTableNames(TableNames{Batches: "x"}),
		WithUnprocessedKeysBackoff(0, time.Second, 1),
		WithChunkConcurrency(0),
		nil,
	} {
		s, err := New(client, opt)
		require.ErrorIs(t, err, storage.ErrInvalid)
		require.Nil(t, s)
		require.ErrorIs(t, CreateTables(context.Background(), client, opt), storage.ErrInvalid)
	}
	_, err := New(nil)
	require.ErrorIs(t, err, storage.ErrInvalid)
	_, err = New(client)
	require.NoError(t, err)
	named, err := New(client, WithTablePrefix("p_"), WithTableNames(TableNames{Members: "mem"}))
	require.NoError(t, err)
	require.Equal(t, TableNames{Batches: "p_batches", Members: "mem", Applies: "p_applies", Operations: "p_operations"}, named.Tables())
}

func TestMemberKey(t *testing.T) {
	t.Parallel()
	seen := map[string][2]string{}
	for _, p := range [][2]string{
		{"a", "b#c"}, {"a#b", "c"}, {"ab", "c"}, {"a", "bc"}, {"a\x00", "b"}, {"a", "\x00b"},
		{"123", "x"}, {"1", "23x"}, {"é", "x"}, {"e", "\u0301x"},
	} {
		k := memberKey(p[0], p[1])
		prev, dup := seen[k]
		require.False(t, dup, "%q and %q encode alike", p, prev)
		seen[k] = p
		s, id, err := splitMemberKey(k)
		require.NoError(t, err)
		require.Equal(t, p, [2]string{s, id})
		require.True(t, strings.HasPrefix(k, statePrefix(p[0])))
	}
	require.False(t, strings.HasPrefix(memberKey("ab", "c"), statePrefix("a")), "a state that is a prefix of another never matches its rows")
	for _, bad := range []string{"", "1", "x12ab", "999ab", "-01a"} {
		_, _, err := splitMemberKey(bad)
		require.Error(t, err, bad)
	}
}

func FuzzMemberKey(f *testing.F) {
	f.Add("a", "b#c", "a#b")
	f.Add("", "x", "\x00")
	f.Fuzz(func(t *testing.T, state, id, other string) {
		if len(state) > 255 || len(other) > 255 {
			return
		}
		s, gotID, err := splitMemberKey(memberKey(state, id))
		if err != nil || s != state || gotID != id {
			t.Fatalf("round trip of (%q, %q) = (%q, %q, %v)", state, id, s, gotID, err)
		}
		if other != state && strings.HasPrefix(memberKey(other, id), statePrefix(state)) {
			t.Fatalf("state %q's prefix matches a row of state %q", state, other)
		}
	})
}

// A List on a quiet queue of 1,000 batches over 3 states costs at most
// 2 × states + ⌈N/100⌉ + 1 requests on the wire: one GetItem (the lease),
// one Query per state and the BatchGetItem chunks.
func TestQuietListRequests(t *testing.T) {
	t.Parallel()
	rec, hc := withRecorder(nil)
	f := newFixture(t, hc)
	ctx := context.Background()
	states := []string{"queued", "running", "merging"}
	queue, err := explore.SeedListQueue(ctx, f.store, 1000, states)
	require.NoError(t, err)
	o, err := batchstate.New(f.store, f.store, batchstate.Machine{States: append(states, "done"), Terminal: []string{"done"}})
	require.NoError(t, err)
	_, err = o.Reconcile(ctx, queue)
	require.NoError(t, err)
	rec.reset()
	got, err := o.List(ctx, queue, states...)
	require.NoError(t, err)
	require.Len(t, got, 1000)
	total := 0
	for _, op := range []string{"GetItem", "Query", "BatchGetItem", "PutItem", "DeleteItem"} {
		total += rec.count(op)
	}
	t.Logf("quiet List of 1000: %d GetItem, %d Query, %d BatchGetItem", rec.count("GetItem"), rec.count("Query"), rec.count("BatchGetItem"))
	require.Equal(t, 1, rec.count("GetItem"))
	require.Equal(t, 3, rec.count("Query"))
	require.Equal(t, 11, rec.count("BatchGetItem"), "1,000 batches and the lease in chunks of 100")
	require.LessOrEqual(t, total, 2*len(states)+10+1)
}

// 100 batches of 256 KiB in one queue: the responses are paged (about
// 1 MB each), every round makes progress, and GetBatches returns them all.
func TestGetBatchesLargeRows(t *testing.T) {
	t.Parallel()
	rec, hc := withRecorder(nil)
	f := newFixture(t, hc, WithUnprocessedKeysBackoff(time.Millisecond, 2*time.Millisecond, 3))
	payload := bytes.Repeat([]byte{'x'}, storage.MaxPayloadBytes)
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("big%03d", i)
		_, err := f.store.CreateBatch(context.Background(), storage.Batch{Queue: "big", ID: ids[i], State: "s", Payload: payload})
		require.NoError(t, err)
	}
	rec.reset()
	got, err := f.store.GetBatches(context.Background(), "big", ids)
	require.NoError(t, err)
	require.Len(t, got, 100)
	for _, b := range got {
		require.Len(t, b.Payload, storage.MaxPayloadBytes)
	}
	require.Greater(t, rec.count("BatchGetItem"), 3, "the emulator paged the responses: more rounds than the 3 allowed without progress")
	t.Logf("100 × 256 KiB in %d BatchGetItem calls", rec.count("BatchGetItem"))
}
