// Package dynamo is a statefold backend for DynamoDB over
// github.com/aws/aws-sdk-go-v2/service/dynamodb: the path for users who
// outgrow one database. Every access is a partition-key point read or a
// partition + range query; there is no Scan, no transaction and no
// secondary index.
//
//	client := dynamodb.NewFromConfig(cfg)
//	_ = dynamo.CreateTables(ctx, client, dynamo.WithTablePrefix("sf_")) // idempotent, waits until active
//	store, err := dynamo.New(client, dynamo.WithTablePrefix("sf_"))
//	err = store.Check(ctx) // storage.ErrSchema: run Migrate (CreateTables)
//
// New and CreateTables take narrow interfaces of the client methods they
// call ([Client], [TableClient]): a *dynamodb.Client, a DAX client, an
// instrumented wrapper or a fake. CreateTables records [SchemaVersion];
// [Store.Check] requires it.
//
// # Tables and keys
//
// Four on-demand tables with string keys:
//
//	batches     partition queue     sort id
//	members     partition queue     sort sk = encode(state, batch id)
//	applies     partition id
//	operations  partition apply_id  sort id
//
// The members sort key is the state's byte length as three decimal digits,
// the state, then the batch id. The length prefix makes it unambiguous
// whatever bytes a state holds ("#", NUL, digits…), and ListMembers queries
// begins_with(sk, length+state), which matches exactly one state's rows: a
// state that is a prefix of another ("a", "ab") or that contains a
// separator ("a#b") never matches another's rows. State and batch id are
// also stored as plain attributes. Keys are compared byte for byte, as
// DynamoDB compares strings. Zero times and the attributes added after the
// first release (an operation's owner, owner_token, owner_until,
// released_at and projected_version when zero) are not stored: an item an earlier release wrote
// reads with those fields zero, and needs no migration.
//
// # Writes
//
//   - create: PutItem with attribute_not_exists(partition key); a failed
//     condition is storage.ErrAlreadyExists;
//   - compare-and-swap: PutItem of the whole item with version = :expected
//     (for a batch also state = :expectedState, the state the caller read)
//     and ReturnValuesOnConditionCheckFailure ALL_OLD; a failed condition
//     that returns the stored item is storage.ErrConflict, whether the
//     version or the state differed. When no item comes back (the row is
//     missing, or the implementation, like dynalite, ignores that
//     parameter) a consistent GetItem tells storage.ErrNotFound from
//     storage.ErrConflict;
//   - AddMember: PutItem with attribute_not_exists OR version <= :v; a failed
//     condition (a newer row) is storage.ErrConflict and nothing changed;
//   - RemoveMember: DeleteItem with version <= :max; a failed condition (an
//     absent or newer row) is success.
//
// The *types.ConditionalCheckFailedException stays reachable with
// errors.As.
//
// # Retries, lost responses and throttling
//
// The SDK retries timeouts, throttling and server errors (three attempts by
// default). A retry of a write whose first attempt landed fails its
// condition on the call's own row. So every create and compare-and-swap
// stores a token unique to the call with the item (attribute "wt"), and
// when the condition failed after an attempt that may have landed (its
// response was lost, a server error), the store looks at the stored item:
// this call's token means the write landed — success; another token means
// the earlier attempt may have landed before another write: the error
// matches storage.ErrAmbiguous, never a plain ErrConflict or
// ErrAlreadyExists. Otherwise (one attempt, or earlier attempts DynamoDB
// throttled, which did not run) a failed condition is exactly ErrConflict
// / ErrAlreadyExists / ErrNotFound. AddMember and
// RemoveMember are sent without the SDK's retries (resent only after
// DynamoDB throttled them, when they did not run): a resend after a landed
// attempt could re-add a row another caller removed, or remove one another
// caller added. Failures that
// outlast the retries — throttling (ProvisionedThroughputExceeded,
// ThrottlingException, RequestLimitExceeded), server errors, timeouts,
// lost connections — match storage.ErrUnavailable, with the SDK's error
// reachable; a write's also storage.ErrAmbiguous when an attempt may have
// landed, but not when DynamoDB throttled every attempt or none could be
// sent (nothing was written), or DynamoDB answered each with a client
// error (4xx: nothing applied). A response that does not parse (the SDK
// does not retry it) is ErrUnavailable too; a non-retryable error on the
// retry of an attempt that may have landed matches ErrAmbiguous alone. A
// write whose context ended while an attempt was in flight matches
// storage.ErrAmbiguous and the context's error; one whose context had
// ended before the call is not sent, and its error is the context's
// alone. The HTTP client's own timeout and a dial timeout are
// ErrUnavailable though their errors match context.DeadlineExceeded: the
// caller's context alone says whether the caller's deadline ended. A
// compare-and-swap whose condition failed on a missing row, the row then
// read back at the expected version (created meanwhile), is sent again.
// The classification matrix in the repository's docs lists every answer. The network-fault
// tests run the explorer's scenarios and the contract suite's crash points
// through the SDK's HTTP client; a history of
// concurrent calls under those faults is checked for linearizability.
//
// Every read is consistent (ConsistentRead), Query follows
// LastEvaluatedKey, and GetBatches uses BatchGetItem in chunks of 100
// ([WithChunkConcurrency] chunks at a time, default 4), retrying
// UnprocessedKeys at once while a round makes progress and with capped
// exponential backoff and jitter after a round without any
// ([WithUnprocessedKeysBackoff]), honouring the context; when the rounds
// without progress run out the error matches [ErrUnprocessed] and
// storage.ErrUnavailable.
//
// Times are Unix microseconds and payloads binary, omitted when zero.
//
// # Configuration errors
//
// [New] and [CreateTables] return a nil client, a nil option or an invalid
// one as an error matching storage.ErrInvalid, before any I/O. Input is
// checked by the layer every backend shares (storage.Checked).
//
// # Tests
//
// The tests use STATEFOLD_DYNAMO_ENDPOINT (make test starts dynalite), or
// else DynamoDB Local in a container when Docker is healthy; otherwise
// they skip, and fail with STATEFOLD_REQUIRE_BACKENDS=1.
package dynamo
