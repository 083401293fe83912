package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/statefold/statefold/internal/readback"
	"github.com/statefold/statefold/storage"
)

// DeleteBatch implements [storage.Driver].
func (s *driver) DeleteBatch(ctx context.Context, queue, id string, expectedVersion int64) error {
	return deleteRow(ctx, s, batchRows, expectedVersion, queue, id)
}

// DeleteApply implements [storage.Driver].
func (s *driver) DeleteApply(ctx context.Context, id string, expectedVersion int64) error {
	return deleteRow(ctx, s, applyRows, expectedVersion, id)
}

// DeleteOperation implements [storage.Driver].
func (s *driver) DeleteOperation(ctx context.Context, applyID, id string, expectedVersion int64) error {
	return deleteRow(ctx, s, operationRows, expectedVersion, applyID, id)
}

// del is a conditional DeleteItem (the stored version is expected), sent
// as RemoveMember's is: once, without the SDK's retries, resent only when
// it surely did not run (throttled, or its connection could not be
// opened) — a resend after a landed attempt would find no item and could
// not tell its own delete from another caller's. A failure that may have
// landed is storage.ErrAmbiguous. A failed condition (which no landed
// attempt preceded) reads the item: none is storage.ErrNotFound, another
// version storage.ErrConflict, the expected version (created again
// between the two requests) a reason to send the delete again.
func (s *driver) del(ctx context.Context, what, table string, key map[string]types.AttributeValue, expected int64) error {
	expr, err := expression.NewBuilder().WithCondition(expression.Name(attrVersion).Equal(expression.Value(expected))).Build()
	if err != nil {
		return fmt.Errorf("dynamo: %s: %w", what, err)
	}
	in := &dynamodb.DeleteItemInput{
		TableName: aws.String(table), Key: key, ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	for attempt := 1; ; attempt++ {
		err := s.once(ctx, func(opt func(*dynamodb.Options)) error {
			_, err := s.client.DeleteItem(ctx, in, opt)
			return err
		})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &ccf):
			return callErr(ctx, what, !notApplied(err), err)
		}
		if again, err := s.failedDelete(ctx, what, table, key, expected, ccf, attempt); !again {
			return err
		}
	}
}

// failedDelete answers a delete whose condition failed: its error, or
// again when the delete should be sent once more.
func (s *driver) failedDelete(ctx context.Context, what, table string, key map[string]types.AttributeValue, expected int64, ccf *types.ConditionalCheckFailedException, attempt int) (again bool, _ error) {
	stored := ccf.Item
	if stored == nil {
		out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return false, callErr(ctx, what+": read back after a failed condition", false, err)
		}
		stored = out.Item
	}
	if stored == nil {
		return false, fmt.Errorf("dynamo: %s: %w: %w", what, storage.ErrNotFound, ccf)
	}
	if version, _ := storedVersion(stored); version != expected || attempt >= readback.MaxAttempts {
		return false, fmt.Errorf("dynamo: %s: %s: %w: %w", what, describeStored(stored), storage.ErrConflict, ccf)
	}
	return true, nil
}
