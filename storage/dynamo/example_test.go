package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/dynamo"
)

// Create the tables once and use the store. (go test runs it against the
// DynamoDB API STATEFOLD_DYNAMO_ENDPOINT names, and skips it when that is
// unset; in production build the client with config.LoadDefaultConfig.)
func Example() {
	ctx := context.Background()
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(os.Getenv("STATEFOLD_DYNAMO_ENDPOINT")),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	if err := dynamo.CreateTables(ctx, client, dynamo.WithTablePrefix("sf_")); err != nil {
		fmt.Println(err)
		return
	}
	store, err := dynamo.New(client, dynamo.WithTablePrefix("sf_"))
	if err != nil {
		fmt.Println(err)
		return
	}
	// A queue of its own on every run: creating b1 again in the same queue
	// would be storage.ErrAlreadyExists.
	queue := fmt.Sprintf("main-%d", time.Now().UnixNano())
	b, err := store.CreateBatch(ctx, storage.Batch{Queue: queue, ID: "b1", State: "created"})
	fmt.Println(b.Version, err)
	// Output: 1 <nil>
}

// A compare-and-swap that lost the race matches storage.ErrConflict, and
// the native DynamoDB exception stays reachable. (go test runs it against
// STATEFOLD_DYNAMO_ENDPOINT, and skips it when that is unset.)
func ExampleStore_UpdateBatch() {
	ctx := context.Background()
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(os.Getenv("STATEFOLD_DYNAMO_ENDPOINT")),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	opts := []dynamo.Option{dynamo.WithTablePrefix("sf_example_")}
	if err := dynamo.CreateTables(ctx, client, opts...); err != nil {
		fmt.Println(err)
		return
	}
	store, err := dynamo.New(client, opts...)
	if err != nil {
		fmt.Println(err)
		return
	}
	queue := fmt.Sprintf("main-%d", time.Now().UnixNano()) // a queue of its own on every run
	b, err := store.CreateBatch(ctx, storage.Batch{Queue: queue, ID: "b2", State: "queued"})
	if err != nil {
		fmt.Println(err)
		return
	}
	b.State = "testing"
	if _, err := store.UpdateBatch(ctx, b, b.Version, "queued"); err != nil { // wins: version 1 → 2
		fmt.Println(err)
		return
	}
	b.State = "merged"
	_, err = store.UpdateBatch(ctx, b, b.Version, "queued") // stale: expects 1 in queued, the row is at 2 in testing
	var ccf *types.ConditionalCheckFailedException
	fmt.Println(errors.Is(err, storage.ErrConflict), errors.As(err, &ccf))
	// Output: true true
}
