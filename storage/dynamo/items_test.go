package dynamo

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

// previousOperationItem is an operation item as the release before
// operation ownership wrote it.
type previousOperationItem struct {
	ApplyID      string `dynamodbav:"apply_id"`
	ID           string `dynamodbav:"id"`
	Seq          int64  `dynamodbav:"seq"`
	Deployment   string `dynamodbav:"deployment,omitempty"`
	Group        string `dynamodbav:"op_group,omitempty"`
	Finalizer    bool   `dynamodbav:"finalizer"`
	State        string `dynamodbav:"state"`
	OnFailure    string `dynamodbav:"on_failure,omitempty"`
	ErrorMessage string `dynamodbav:"error_message,omitempty"`
	StartedAt    *int64 `dynamodbav:"started_at,omitempty"`
	CompletedAt  *int64 `dynamodbav:"completed_at,omitempty"`
	Projected    bool   `dynamodbav:"projected,omitempty"`
	Payload      []byte `dynamodbav:"payload,omitempty"`
	Version      int64  `dynamodbav:"version"`
	CreatedAt    *int64 `dynamodbav:"created_at,omitempty"`
	UpdatedAt    *int64 `dynamodbav:"updated_at,omitempty"`
}

// An operation item written by an earlier release (no owner, owner_token,
// owner_until or released_at attribute) reads with those fields zero and
// everything else as written, and the fields round-trip once written; an
// operation with them zero is stored without the attributes, as an
// earlier release stored it.
func TestOperationItemsOfAnEarlierRelease(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	table := f.store.d.cfg.names.Operations
	at := time.Date(2030, 4, 5, 6, 7, 8, 123456000, time.UTC)
	want := storage.Operation{ApplyID: "a", ID: "failed", Seq: 2, Deployment: "west", Group: "g", State: "failed",
		OnFailure: "continue", ErrorMessage: "boom", StartedAt: at.Add(time.Second), CompletedAt: at.Add(2 * time.Second),
		Payload: []byte("p"), Version: 4, CreatedAt: at, UpdatedAt: at.Add(2 * time.Second), Projected: true}
	av, err := attributevalue.MarshalMap(previousOperationItem{ApplyID: want.ApplyID, ID: want.ID, Seq: want.Seq,
		Deployment: want.Deployment, Group: want.Group, State: want.State, OnFailure: want.OnFailure,
		ErrorMessage: want.ErrorMessage, StartedAt: micros(want.StartedAt), CompletedAt: micros(want.CompletedAt),
		Projected: true, Payload: want.Payload, Version: want.Version, CreatedAt: micros(want.CreatedAt),
		UpdatedAt: micros(want.UpdatedAt)})
	require.NoError(t, err)
	_, err = f.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: av})
	require.NoError(t, err)

	got, err := f.store.GetOperation(ctx, "a", "failed")
	require.NoError(t, err)
	require.Equal(t, want, got, "an earlier release's item reads as written, the new fields zero")
	list, err := f.store.ListOperations(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, []storage.Operation{want}, list)

	up := got
	up.Owner, up.OwnerToken, up.OwnerUntil, up.ReleasedAt = "loop-1", 9, at.Add(time.Minute), at.Add(3*time.Second)
	up, err = f.store.UpdateOperation(ctx, up, got.Version)
	require.NoError(t, err)
	got, err = f.store.GetOperation(ctx, "a", "failed")
	require.NoError(t, err)
	require.Equal(t, up, got)

	// Zero fields are not stored at all.
	_, err = f.store.CreateOperation(ctx, storage.Operation{ApplyID: "a", ID: "plain", State: "pending"})
	require.NoError(t, err)
	out, err := f.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: keyOf(attrApplyID, "a", attrID, "plain")})
	require.NoError(t, err)
	for _, attr := range []string{"owner", "owner_token", "owner_until", "released_at"} {
		require.NotContains(t, out.Item, attr)
	}
}
