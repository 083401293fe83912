package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/statefold/statefold/storage"
)

// tableSpec is one table's key schema: a partition key and an optional
// sort key, both strings.
type tableSpec struct{ name, pk, sk string }

// TableClient is the part of the DynamoDB API [CreateTables] and
// [DeleteTables] call: *dynamodb.Client implements it.
type TableClient interface {
	// CreateTable creates one of the tables.
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	// DeleteTable deletes one of the tables.
	DeleteTable(ctx context.Context, in *dynamodb.DeleteTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
	// DescribeTable is what the waiter for the new tables polls.
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	// PutItem records the schema version.
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

var _ TableClient = (*dynamodb.Client)(nil)

func specs(n TableNames) []tableSpec {
	return []tableSpec{
		{n.Batches, attrQueue, attrID},
		{n.Members, attrQueue, attrSort},
		{n.Applies, attrID, ""},
		{n.Operations, attrApplyID, attrID},
	}
}

// CreateTables creates the four tables (on-demand capacity, string keys,
// no secondary index) unless they exist, waits until every one is active
// and records [SchemaVersion] (an item of the applies table no apply can
// have). It is idempotent; an existing table with other keys is reported
// as [ErrTableSchema], tables of a later release as storage.ErrSchema.
// Older items need no change: attributes added after v0.1.0 read as zero
// when absent.
func CreateTables(ctx context.Context, client TableClient, opts ...Option) error {
	c, err := tableConfig(client, opts)
	if err != nil {
		return err
	}
	for _, t := range specs(c.names) {
		in := &dynamodb.CreateTableInput{
			TableName:   aws.String(t.name),
			BillingMode: types.BillingModePayPerRequest,
			KeySchema:   []types.KeySchemaElement{{AttributeName: aws.String(t.pk), KeyType: types.KeyTypeHash}},
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String(t.pk), AttributeType: types.ScalarAttributeTypeS},
			},
		}
		if t.sk != "" {
			in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(t.sk), KeyType: types.KeyTypeRange})
			in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(t.sk), AttributeType: types.ScalarAttributeTypeS})
		}
		_, err := client.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("dynamo: create table %s: %w", t.name, err)
		}
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 2*time.Second
	})
	for _, t := range specs(c.names) {
		out, err := w.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.name)}, 5*time.Minute)
		if err != nil {
			return fmt.Errorf("dynamo: wait for table %s: %w", t.name, err)
		}
		if err := t.check(out.Table); err != nil {
			return err
		}
	}
	return recordVersion(ctx, client, c.names.Applies)
}

// ErrTableSchema reports an existing table whose key schema is not the one
// the Store needs.
var ErrTableSchema = errors.New("dynamo: table has another key schema")

// check verifies that an existing table has the spec's keys, so that a
// name clash is reported by CreateTables rather than by every write.
func (t tableSpec) check(d *types.TableDescription) error {
	if d == nil {
		return fmt.Errorf("dynamo: describe table %s: no description", t.name)
	}
	want := map[types.KeyType]string{types.KeyTypeHash: t.pk}
	if t.sk != "" {
		want[types.KeyTypeRange] = t.sk
	}
	got := map[types.KeyType]string{}
	for _, k := range d.KeySchema {
		got[k.KeyType] = aws.ToString(k.AttributeName)
	}
	attrTypes := map[string]types.ScalarAttributeType{}
	for _, a := range d.AttributeDefinitions {
		attrTypes[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	ok := len(got) == len(want)
	for kt, name := range want {
		ok = ok && got[kt] == name && attrTypes[name] == types.ScalarAttributeTypeS
	}
	if !ok {
		return fmt.Errorf("%w: %s has keys %v, want %v (string keys)", ErrTableSchema, t.name, got, want)
	}
	return nil
}

// tableConfig checks the arguments of CreateTables and DeleteTables: the
// options, then the client.
func tableConfig(client TableClient, opts []Option) (config, error) {
	c, err := newConfig(opts)
	if err != nil {
		return config{}, err
	}
	if client == nil {
		return config{}, storage.Invalid("client", "nil TableClient")
	}
	return c, nil
}

// DeleteTables deletes the four tables; tables that do not exist are
// skipped. It does not wait for the deletion to finish.
func DeleteTables(ctx context.Context, client TableClient, opts ...Option) error {
	c, err := tableConfig(client, opts)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range specs(c.names) {
		_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(t.name)})
		var missing *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &missing) {
			errs = append(errs, fmt.Errorf("dynamo: delete table %s: %w", t.name, err))
		}
	}
	return errors.Join(errs...)
}
