package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/statefold/statefold/storage"
)

// SchemaVersion is the version of the tables this release reads and
// writes; [CreateTables] records it and [Store.Check] requires it. The
// tables of v0.1.0 are version 1: the same keys, with no version recorded.
const SchemaVersion = 2

// schemaItemID keys the item that records the schema version in the
// applies table: longer than any key a store accepts
// (storage.MaxKeyBytes), so no apply can have it.
var schemaItemID = "statefold schema version " + strings.Repeat(".", storage.MaxKeyBytes)

// Migrate is [CreateTables]: the name every backend gives the call that
// brings its tables to this release.
func Migrate(ctx context.Context, client TableClient, opts ...Option) error {
	return CreateTables(ctx, client, opts...)
}

// recordVersion writes the schema version item unless a later release's
// is stored (storage.ErrSchema, nothing written).
func recordVersion(ctx context.Context, client TableClient, table string) error {
	cond := expression.AttributeNotExists(expression.Name(attrID)).
		Or(expression.Name(attrVersion).LessThanEqual(expression.Value(SchemaVersion)))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("dynamo: record the schema version: %w", err)
	}
	_, err = client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]types.AttributeValue{
			attrID:      &types.AttributeValueMemberS{Value: schemaItemID},
			attrVersion: &types.AttributeValueMemberN{Value: strconv.Itoa(SchemaVersion)},
		},
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return fmt.Errorf("dynamo: migrate: the tables record a later release's schema version (this one writes %d): %w",
			SchemaVersion, storage.ErrSchema)
	case err != nil:
		return fmt.Errorf("dynamo: record the schema version: %w", err)
	}
	return nil
}

// Check verifies that the four tables exist with the keys the store uses
// and record [SchemaVersion]: tables missing, with other keys, of v0.1.0
// (no version recorded) or of a later release are an error matching
// storage.ErrSchema that says to run [Migrate] ([CreateTables]). It reads
// only, with the Store's client; call it at startup ([New] does no I/O).
func (s *Store) Check(ctx context.Context) error {
	for _, t := range specs(s.d.cfg.names) {
		key := map[string]types.AttributeValue{t.pk: &types.AttributeValueMemberS{Value: "statefold check"}}
		if t.sk != "" {
			key[t.sk] = &types.AttributeValueMemberS{Value: "statefold check"}
		}
		if _, err := s.d.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(t.name), Key: key}); err != nil {
			return checkErr(ctx, err, "table "+t.name)
		}
	}
	out, err := s.d.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.d.cfg.names.Applies),
		Key: map[string]types.AttributeValue{attrID: &types.AttributeValueMemberS{Value: schemaItemID}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return checkErr(ctx, err, "schema version")
	}
	v, _ := storedVersion(out.Item)
	switch {
	case out.Item == nil:
		return fmt.Errorf("dynamo: check: no schema version (tables of v0.1.0, or a CreateTables that did not finish): run Migrate: %w", storage.ErrSchema)
	case v < SchemaVersion:
		return fmt.Errorf("dynamo: check: schema version %d is older than this release's %d: run Migrate: %w", v, SchemaVersion, storage.ErrSchema)
	case v > SchemaVersion:
		return fmt.Errorf("dynamo: check: schema version %d is a later release's (this one reads %d): run that release, or Migrate of a release that knows it: %w",
			v, SchemaVersion, storage.ErrSchema)
	}
	return nil
}

// checkErr is a missing table or a key schema other than the store's as
// storage.ErrSchema, anything else as the failure of a read.
func checkErr(ctx context.Context, err error, what string) error {
	var missing *types.ResourceNotFoundException
	var api smithy.APIError
	if errors.As(err, &missing) || (errors.As(err, &api) && api.ErrorCode() == "ValidationException") {
		return fmt.Errorf("dynamo: check: %s: %v: run Migrate: %w", what, err, storage.ErrSchema)
	}
	return callErr(ctx, "check", false, err)
}
