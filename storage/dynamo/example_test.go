package dynamo_test

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/dynamo"
)

// Create the tables once and use the store. (Not run by go test: it needs
// a DynamoDB API; in production build the client with config.LoadDefaultConfig.)
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
	store := dynamo.New(client, dynamo.WithTablePrefix("sf_"))
	b, err := store.CreateBatch(ctx, storage.Batch{Queue: "main", ID: "b1", State: "created"})
	fmt.Println(b.Version, err)
}
