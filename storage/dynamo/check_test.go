package dynamo

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

// Check passes on tables CreateTables made; missing tables, a missing
// version item (v0.1.0's tables), an older or a later version are
// storage.ErrSchema naming Migrate; Migrate refuses a later release's
// tables and records the version on the others.
func TestCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	require.NoError(t, f.store.Check(ctx))
	_, err := f.store.GetApply(ctx, schemaItemID)
	require.ErrorIs(t, err, storage.ErrInvalid, "no apply can have the version item's key")

	missing, err := New(f.client, append(f.opts, WithTablePrefix("statefold_nothing_"))...)
	require.NoError(t, err)
	err = missing.Check(ctx)
	require.ErrorIs(t, err, storage.ErrSchema)
	require.ErrorContains(t, err, "run Migrate")

	table := f.store.Tables().Applies
	key := map[string]types.AttributeValue{attrID: &types.AttributeValueMemberS{Value: schemaItemID}}
	setVersion := func(v int) {
		item := map[string]types.AttributeValue{attrID: key[attrID], attrVersion: &types.AttributeValueMemberN{Value: strconv.Itoa(v)}}
		_, err := f.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
		require.NoError(t, err)
	}
	for _, c := range []struct {
		set  func()
		says string
	}{
		{func() {
			_, err := f.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key})
			require.NoError(t, err)
		}, "no schema version"},
		{func() { setVersion(1) }, "older than this release's 2"},
		{func() { setVersion(3) }, "a later release's"},
	} {
		c.set()
		err := f.store.Check(ctx)
		require.ErrorIs(t, err, storage.ErrSchema, c.says)
		require.ErrorContains(t, err, c.says)
		require.ErrorContains(t, err, "Migrate")
		if c.says == "a later release's" {
			require.ErrorIs(t, Migrate(ctx, f.client, f.opts...), storage.ErrSchema)
			setVersion(2)
		}
		require.NoError(t, Migrate(ctx, f.client, f.opts...))
		require.NoError(t, f.store.Check(ctx))
	}
}
