package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/internal/readback"
	"github.com/statefold/statefold/storage"
)

// Store is a [storage.Store] over DynamoDB. It is safe for concurrent use.
// Create the tables with [CreateTables] first.
// Its [storage.Store] methods are those of [storage.Checked] around the
// driver: every input is checked before any I/O.
type Store struct {
	checkedStore
	d *driver
}

var _ storage.Store = (*Store)(nil)

// checkedStore is the portable layer [storage.Checked] puts around the
// driver: its methods are Store's.
type checkedStore = storage.Store

// driver makes the requests: a [storage.Driver] whose input is checked
// and normalized.
type driver struct {
	client Client
	cfg    config
}

// Client is the part of the DynamoDB API a [Store] calls: *dynamodb.Client
// implements it, and so can a DAX client, an instrumented wrapper or a
// fake.
type Client interface {
	// GetItem reads one row by its key.
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	// PutItem writes one row, under a condition where the store compares.
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	// DeleteItem removes one row, under a condition where the store compares.
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	// BatchGetItem reads up to [MaxBatchGetKeys] rows by their keys.
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	// Query reads the rows under one partition key.
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ Client = (*dynamodb.Client)(nil)

// New returns a Store over client. It does no I/O. A nil client or an
// invalid option is an error matching storage.ErrInvalid, as for
// mysql.New (memory.New has nothing to check and returns no error).
func New(client Client, opts ...Option) (*Store, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if client == nil {
		return nil, storage.Invalid("client", "nil Client")
	}
	d := &driver{client: client, cfg: c}
	return &Store{storage.Checked(d), d}, nil
}

// Tables returns the four table names the Store uses.
func (s *Store) Tables() TableNames { return s.d.cfg.names }

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func keyOf(pairs ...string) map[string]types.AttributeValue {
	m := make(map[string]types.AttributeValue, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = &types.AttributeValueMemberS{Value: pairs[i+1]}
	}
	return m
}

// put writes item: a create (expected == 0; condition: the key is absent)
// or a compare-and-swap (condition: the stored version is expected and, when
// expectedState is not nil, the stored state is *expectedState). A failed
// CAS condition means the row is missing or does not match (another
// version, or another state): one that returns the stored item is
// storage.ErrConflict; without an item, a consistent read tells
// storage.ErrNotFound from storage.ErrConflict (any stored row failed the
// condition, whichever part of it).
func (s *driver) put(ctx context.Context, what, table, pk string, item any, key map[string]types.AttributeValue, expected int64, expectedState *string) error {
	r := putRequest{what: what, table: table, key: key, expected: expected, expectedState: expectedState}
	if err := r.build(pk, item); err != nil {
		return err
	}
	var tries attempts
	for attempt := 1; ; attempt++ {
		if err := notSent(ctx); err != nil {
			// Nothing of this call was sent, or only attempts that did
			// not apply (their condition failed).
			return fmt.Errorf("dynamo: %s: %w", what, err)
		}
		_, err := s.client.PutItem(ctx, r.in, tries.option())
		var ccf *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &ccf):
			// Ambiguous only if an attempt may have landed (not when every
			// one was throttled or never sent).
			return callErr(ctx, what, tries.mayHaveLanded.Load(), err)
		}
		if again, err := s.failedCondition(ctx, &r, tries.mayHaveLanded.Load(), ccf, err, attempt); !again {
			return err
		}
	}
}

// putRequest is one conditional PutItem of put, with the token unique to
// the call that it stores with the item.
type putRequest struct {
	what, table   string
	key           map[string]types.AttributeValue
	expected      int64
	expectedState *string
	token         string
	in            *dynamodb.PutItemInput
}

// build marshals item and its condition into r.in.
func (r *putRequest) build(pk string, item any) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("dynamo: %s: marshal: %w", r.what, err)
	}
	// A token unique to this call, stored with the item: a retry of the
	// call whose condition fails on an item with this token met its own
	// landed write.
	r.token = writeToken()
	av[attrWriteToken] = &types.AttributeValueMemberS{Value: r.token}
	cond := expression.AttributeNotExists(expression.Name(pk))
	if r.expected > 0 {
		cond = expression.Name(attrVersion).Equal(expression.Value(r.expected))
		if r.expectedState != nil {
			cond = cond.And(expression.Name(attrState).Equal(expression.Value(*r.expectedState)))
		}
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("dynamo: %s: %w", r.what, err)
	}
	r.in = &dynamodb.PutItemInput{
		TableName: aws.String(r.table), Item: av, ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		// DynamoDB returns the stored item with the condition failure, which
		// tells a lost race from a missing row, and a retry of this call's
		// own landed write from a conflict, without another read.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	return nil
}

// failedCondition answers a put whose condition failed (err, ccf): its
// error, or again when the write should run once more.
func (s *driver) failedCondition(ctx context.Context, r *putRequest, mayHaveLanded bool, ccf *types.ConditionalCheckFailedException, err error, attempt int) (again bool, _ error) {
	what, stored := r.what, ccf.Item
	if stored == nil {
		// The row is missing, or the implementation (dynalite, older
		// DynamoDB Local) ignores ReturnValuesOnConditionCheckFailure.
		out, gerr := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.table), Key: r.key, ConsistentRead: aws.Bool(true)})
		if gerr != nil {
			return false, callErr(ctx, what+": read back after a failed condition", mayHaveLanded, gerr)
		}
		stored = out.Item
	}
	if mayHaveLanded {
		// The SDK retried an attempt that may have landed (its response
		// was lost, or a server error): the condition may have failed on
		// this call's own write.
		if t, ok := stored[attrWriteToken].(*types.AttributeValueMemberS); ok && t.Value == r.token {
			return false, nil
		}
		return false, fmt.Errorf("dynamo: %s: a retried write met %s, which may have followed its own landed write: %w: %w",
			what, describeStored(stored), storage.ErrAmbiguous, err)
	}
	switch {
	case r.expected == 0:
		return false, fmt.Errorf("dynamo: %s: %w: %w", what, storage.ErrAlreadyExists, err)
	case stored == nil:
		return false, fmt.Errorf("dynamo: %s: %w: %w", what, storage.ErrNotFound, err)
	}
	// The item read back is the one the condition expected: it was
	// created (or moved back) after the condition failed, so neither
	// "missing" nor "conflict" is an answer any order of the calls
	// allows. Run the write again, as the SQL stores do.
	version, state := storedVersion(stored)
	if version != r.expected || (r.expectedState != nil && state != *r.expectedState) || attempt >= readback.MaxAttempts {
		return false, fmt.Errorf("dynamo: %s: %s: %w: %w", what, describeStored(stored), storage.ErrConflict, err)
	}
	return true, nil
}

// storedVersion returns the version and state of a stored item (zero and
// empty when it has none).
func storedVersion(item map[string]types.AttributeValue) (int64, string) {
	var stored struct {
		Version int64  `dynamodbav:"version"`
		State   string `dynamodbav:"state"`
	}
	_ = attributevalue.UnmarshalMap(item, &stored)
	return stored.Version, stored.State
}

// describeStored names the version and state of the stored item that failed
// a compare-and-swap condition, for the error message.
func describeStored(item map[string]types.AttributeValue) string {
	if item == nil {
		return "no stored row"
	}
	var stored struct {
		Version int64  `dynamodbav:"version"`
		State   string `dynamodbav:"state"`
	}
	if err := attributevalue.UnmarshalMap(item, &stored); err != nil {
		return "stored item unreadable (" + err.Error() + ")"
	}
	return fmt.Sprintf("stored version %d, state %q", stored.Version, stored.State)
}

// get reads one item with a consistent read into out; a missing item is
// storage.ErrNotFound.
func (s *driver) get(ctx context.Context, what, table string, key map[string]types.AttributeValue, out any) error {
	res, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return callErr(ctx, what, false, err)
	}
	if res.Item == nil {
		return fmt.Errorf("dynamo: %s: %w", what, storage.ErrNotFound)
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return fmt.Errorf("dynamo: %s: unmarshal: %w", what, err)
	}
	return nil
}

// query reads every item of one partition (optionally with a sort-key
// prefix), consistently, following LastEvaluatedKey.
func (s *driver) query(ctx context.Context, what, table string, kc expression.KeyConditionBuilder, each func(map[string]types.AttributeValue) error) error {
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return fmt.Errorf("dynamo: %s: %w", what, err)
	}
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return callErr(ctx, what, false, err)
		}
		for _, item := range page.Items {
			if err := each(item); err != nil {
				return fmt.Errorf("dynamo: %s: %w", what, err)
			}
		}
	}
	return nil
}

// CreateBatch implements [storage.Driver].
func (s *driver) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	return putRow(ctx, s, batchRows, "create", b, 0, nil)
}

// GetBatch implements [storage.Driver].
func (s *driver) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	return getRow(ctx, s, batchRows, queue, id)
}

// GetBatches implements [storage.Driver]: the ids are deduplicated and
// read with BatchGetItem in chunks of [MaxBatchGetKeys], consistently, up
// to [WithChunkConcurrency] chunks at a time; UnprocessedKeys are retried
// at once while a round returns items, and with capped exponential backoff
// and jitter after a round that returned none, until the context ends or
// the rounds without progress run out. The first failing chunk cancels the others and fails
// the call.
func (s *driver) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = keyOf(attrQueue, queue, attrID, id)
	}
	chunks := make([][]storage.Batch, (len(keys)+MaxBatchGetKeys-1)/MaxBatchGetKeys)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.batchGetConcurrency)
	for i := range chunks {
		chunk := keys[i*MaxBatchGetKeys : min((i+1)*MaxBatchGetKeys, len(keys))]
		g.Go(func() error {
			items, err := s.batchGet(gctx, chunk)
			if err != nil {
				return err
			}
			rows := make([]storage.Batch, 0, len(items))
			add := collect(&rows, batchItem.batch)
			for _, item := range items {
				if err := add(item); err != nil {
					return fmt.Errorf("unmarshal: %w", err)
				}
			}
			chunks[i] = rows
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, callErr(ctx, fmt.Sprintf("get batches of %q", queue), false, err)
	}
	out := make([]storage.Batch, 0, len(keys))
	for _, rows := range chunks {
		out = append(out, rows...)
	}
	return out, nil
}

// ErrUnprocessed reports that BatchGetItem left keys unprocessed round
// after round without returning anything: the attempts without progress
// ran out (see [WithUnprocessedKeysBackoff]). That is throttling, so the
// error matches storage.ErrUnavailable too.
var ErrUnprocessed = errors.New("dynamo: keys still unprocessed after every attempt")

// batchProjection names the attributes of a batch item ([batchItem]),
// #q and #s standing for queue and state, which are reserved words.
const batchProjection = "#q, id, #s, version, payload, created_at, updated_at"

// batchProjectionNames are batchProjection's placeholders.
var batchProjectionNames = map[string]string{"#q": attrQueue, "#s": attrState}

func (s *driver) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	table := s.cfg.names.Batches
	var items []map[string]types.AttributeValue
	// Only a batch's fields are read: not the write token a retried write
	// leaves on its item (less for the server to send and the SDK to
	// decode: a List of 1,000 took a fifth less time on dynalite).
	request := map[string]types.KeysAndAttributes{table: {Keys: keys, ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String(batchProjection), ExpressionAttributeNames: batchProjectionNames}}
	// DynamoDB answers at most 16 MB per call and, with every key in one
	// partition, about 1 MB: large rows come back a few per round. Only
	// rounds that return nothing count against the budget; a round that
	// makes progress resets the backoff.
	stalled := 0
	for round := 1; ; round++ {
		res, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: request})
		if err != nil {
			return nil, err
		}
		got := res.Responses[table]
		items = append(items, got...)
		left, ok := res.UnprocessedKeys[table]
		if !ok || len(left.Keys) == 0 {
			return items, nil
		}
		if len(got) > 0 {
			stalled = 0
		} else {
			stalled++
		}
		if stalled >= s.cfg.maxAttempts {
			return nil, fmt.Errorf("%w: %w: %d keys left after %d rounds (%d without progress)", ErrUnprocessed, storage.ErrUnavailable, len(left.Keys), round, stalled)
		}
		left.ConsistentRead = aws.Bool(true)
		request = map[string]types.KeysAndAttributes{table: left}
		if stalled > 0 {
			if err := sleep(ctx, s.backoff(stalled)); err != nil {
				return nil, err
			}
		}
	}
}

// backoff is the delay before retry attempt+1: base·2^(attempt-1) capped,
// with "equal jitter" (half fixed, half random).
func (s *driver) backoff(attempt int) time.Duration {
	d := s.cfg.backoffBase << min(attempt-1, 30)
	if d <= 0 || d > s.cfg.backoffMax {
		d = s.cfg.backoffMax
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d, or until ctx ends (its error). An unfired time.After
// timer is collected since Go 1.23.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// UpdateBatch implements [storage.Driver].
func (s *driver) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64, expectedState string) (storage.Batch, error) {
	return putRow(ctx, s, batchRows, "update", b, expectedVersion, &expectedState)
}

// AddMember implements [storage.Driver] with one conditional
// PutItem: it lands if the row is absent or not newer; a failed condition
// (a newer row) is storage.ErrConflict, wrapping the native exception.
func (s *driver) AddMember(ctx context.Context, m storage.Member) error {
	av, err := attributevalue.MarshalMap(toMemberItem(m))
	if err != nil {
		return fmt.Errorf("dynamo: add member: marshal: %w", err)
	}
	cond := expression.AttributeNotExists(expression.Name(attrQueue)).
		Or(expression.Name(attrVersion).LessThanEqual(expression.Value(m.Version)))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("dynamo: add member: %w", err)
	}
	// Sent once (resent only when throttled): a resend after a landed
	// attempt could re-add a row another caller removed meanwhile.
	err = s.once(ctx, func(opt func(*dynamodb.Options)) error {
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.cfg.names.Members), Item: av, ConditionExpression: expr.Condition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}, opt)
		return err
	})
	switch {
	case err == nil:
		return nil
	case isConditionFailed(err):
		return fmt.Errorf("dynamo: add member %q/%q/%q: stored version is above %d: %w: %w",
			m.Queue, m.State, m.BatchID, m.Version, storage.ErrConflict, err)
	}
	return callErr(ctx, fmt.Sprintf("add member %q/%q/%q", m.Queue, m.State, m.BatchID), !notApplied(err), err)
}

// RemoveMember implements [storage.Driver] with one conditional
// DeleteItem (version <= maxVersion); a failed condition (absent or newer
// row) is success.
func (s *driver) RemoveMember(ctx context.Context, queue, state, batchID string, maxVersion int64) error {
	expr, err := expression.NewBuilder().WithCondition(expression.Name(attrVersion).LessThanEqual(expression.Value(maxVersion))).Build()
	if err != nil {
		return fmt.Errorf("dynamo: remove member: %w", err)
	}
	// Sent once (resent only when throttled): a resend after a landed
	// attempt could remove a row another caller added meanwhile.
	err = s.once(ctx, func(opt func(*dynamodb.Options)) error {
		_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(s.cfg.names.Members), Key: keyOf(attrQueue, queue, attrSort, memberKey(state, batchID)),
			ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}, opt)
		return err
	})
	if err != nil && !isConditionFailed(err) {
		return callErr(ctx, fmt.Sprintf("remove member %q/%q/%q", queue, state, batchID), !notApplied(err), err)
	}
	return nil
}

// ListMembers implements [storage.Driver] with one Query of the
// queue's partition for the sort keys that begin with the state's prefix.
func (s *driver) ListMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	var out []storage.Member
	kc := expression.Key(attrQueue).Equal(expression.Value(queue)).And(expression.Key(attrSort).BeginsWith(statePrefix(state)))
	if err := s.query(ctx, fmt.Sprintf("list members %q/%q", queue, state), s.cfg.names.Members, kc, collect(&out, memberItem.member)); err != nil {
		return nil, err
	}
	return out, nil
}

// CreateApply implements [storage.Driver].
func (s *driver) CreateApply(ctx context.Context, a storage.Apply) (storage.Apply, error) {
	return putRow(ctx, s, applyRows, "create", a, 0, nil)
}

// GetApply implements [storage.Driver].
func (s *driver) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	return getRow(ctx, s, applyRows, id)
}

// UpdateApply implements [storage.Driver].
func (s *driver) UpdateApply(ctx context.Context, a storage.Apply, expectedVersion int64) (storage.Apply, error) {
	return putRow(ctx, s, applyRows, "update", a, expectedVersion, nil)
}

// CreateOperation implements [storage.Driver].
func (s *driver) CreateOperation(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	return putRow(ctx, s, operationRows, "create", op, 0, nil)
}

// GetOperation implements [storage.Driver].
func (s *driver) GetOperation(ctx context.Context, applyID, id string) (storage.Operation, error) {
	return getRow(ctx, s, operationRows, applyID, id)
}

// ListOperations implements [storage.Driver] with one Query of the
// apply's partition.
func (s *driver) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	var out []storage.Operation
	err := s.query(ctx, fmt.Sprintf("list operations %q", applyID), s.cfg.names.Operations,
		expression.Key(attrApplyID).Equal(expression.Value(applyID)), collect(&out, operationItem.operation))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateOperation implements [storage.Driver].
func (s *driver) UpdateOperation(ctx context.Context, op storage.Operation, expectedVersion int64) (storage.Operation, error) {
	return putRow(ctx, s, operationRows, "update", op, expectedVersion, nil)
}
