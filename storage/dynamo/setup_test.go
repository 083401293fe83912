package dynamo

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/testenv"
)

// endpointEnv points the tests at a running DynamoDB API (dynalite,
// DynamoDB Local).
const endpointEnv = "STATEFOLD_DYNAMO_ENDPOINT"

var server struct {
	once     sync.Once
	endpoint string // empty when unavailable
	reason   string
	stop     func() // removes the container, if one was started
}

func TestMain(m *testing.M) {
	testenv.ExamplesNeed(endpointEnv)
	code := m.Run()
	if server.stop != nil {
		server.stop()
	}
	os.Exit(code)
}

func resolveServer() {
	ctx := context.Background()
	endpoint, source := os.Getenv(endpointEnv), endpointEnv
	if endpoint == "" {
		addr, stop, err := testenv.StartContainer(ctx, "dynamodb")
		if err != nil {
			server.reason = fmt.Sprintf("no DynamoDB API: set %s (for example http://127.0.0.1:8000, dynalite or DynamoDB Local) or run a Docker engine for a DynamoDB Local container (%v)", endpointEnv, err)
			return
		}
		endpoint, server.stop, source = addr, stop, "DynamoDB Local container"
	}
	if err := probe(ctx, endpoint, nil); err != nil {
		server.reason = fmt.Sprintf("%s: %v", source, err)
		return
	}
	server.endpoint = endpoint
}

// probeTimeout bounds the first request to a server, so that a wrong or
// dead endpoint fails the run quickly instead of hanging in retries.
const probeTimeout = 5 * time.Second

// probe sends one ListTables to endpoint, without retries and within
// probeTimeout; hc optionally wraps the HTTP client.
func probe(ctx context.Context, endpoint string, hc func(dynamodb.HTTPClient) dynamodb.HTTPClient) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err := newClient(endpoint, hc, 1).ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
	if err != nil {
		return fmt.Errorf("cannot reach a DynamoDB API at %s (set %s to a reachable one): %w", endpoint, endpointEnv, err)
	}
	return nil
}

// newClient returns a client for endpoint with static credentials; hc may
// wrap the HTTP client.
func newClient(endpoint string, hc func(dynamodb.HTTPClient) dynamodb.HTTPClient, attempts int) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("statefold", "statefold", ""),
		RetryMaxAttempts: attempts,
	}, func(o *dynamodb.Options) {
		if hc != nil {
			base := o.HTTPClient
			if base == nil {
				base = http.DefaultClient
			}
			o.HTTPClient = hc(base)
		}
	})
}

type fixture struct {
	store  *Store
	client *dynamodb.Client
	opts   []Option
}

// newFixture creates tables with a unique prefix (deleted when the test
// ends) and a Store over them; hc optionally wraps the HTTP client.
func newFixture(t testing.TB, hc func(dynamodb.HTTPClient) dynamodb.HTTPClient, opts ...Option) fixture {
	t.Helper()
	server.once.Do(resolveServer)
	if server.endpoint == "" {
		testenv.Unavailable(t, "%s", server.reason)
		return fixture{}
	}
	client := newClient(server.endpoint, hc, 0)
	prefix := testenv.TablePrefix()
	opts = append([]Option{WithTablePrefix(prefix)}, opts...)
	ctx := context.Background()
	require.NoError(t, CreateTables(ctx, client, opts...))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := DeleteTables(ctx, client, opts...); err != nil {
			t.Errorf("delete test tables: %v", err)
		}
	})
	s, err := New(client, opts...)
	require.NoError(t, err)
	return fixture{store: s, client: client, opts: opts}
}
