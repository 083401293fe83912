// Package exstore is what the example programs share: the store they run
// on, chosen by the -store flag (the in-memory default, MySQL / MariaDB,
// PostgreSQL or DynamoDB), and their main.
package exstore

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/statefold/statefold/internal/storeconn"
	"github.com/statefold/statefold/storage"
)

// Flags are the store-selection flags every example accepts.
type Flags struct {
	Store    string
	DSN      string
	Endpoint string
	Prefix   string
}

// Register adds -store, -dsn, -endpoint and -prefix to fs. -dsn falls back
// to STATEFOLD_MYSQL_DSN or STATEFOLD_POSTGRES_DSN (by -store), -endpoint to
// STATEFOLD_DYNAMO_ENDPOINT.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Store, "store", "memory", "backend: memory, mysql, postgres or dynamo")
	fs.StringVar(&f.DSN, "dsn", "", "DSN for -store mysql or postgres (default $STATEFOLD_MYSQL_DSN or $STATEFOLD_POSTGRES_DSN)")
	fs.StringVar(&f.Endpoint, "endpoint", os.Getenv("STATEFOLD_DYNAMO_ENDPOINT"), "DynamoDB endpoint for -store dynamo (default $STATEFOLD_DYNAMO_ENDPOINT)")
	fs.StringVar(&f.Prefix, "prefix", "example_", "table prefix for -store mysql, postgres and dynamo")
}

// Open opens the selected store, creating its tables if needed. close releases
// what Open acquired.
func (f *Flags) Open(ctx context.Context) (s storage.Store, closeFn func(), err error) {
	cfg := storeconn.Config{Backend: cmp.Or(f.Store, "memory"), Prefix: f.Prefix}
	switch cfg.Backend {
	case "memory":
	case "mysql", "postgres":
		env := map[string]string{"mysql": "STATEFOLD_MYSQL_DSN", "postgres": "STATEFOLD_POSTGRES_DSN"}[f.Store]
		if cfg.DSN = cmp.Or(f.DSN, os.Getenv(env)); cfg.DSN == "" {
			return nil, nil, fmt.Errorf("-store %s needs -dsn or %s", f.Store, env)
		}
	case "dynamo":
		if f.Endpoint == "" {
			return nil, nil, fmt.Errorf("-store dynamo needs -endpoint or STATEFOLD_DYNAMO_ENDPOINT")
		}
		cfg.Dynamo = dynamodb.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(f.Endpoint),
			Credentials:  credentials.NewStaticCredentialsProvider("example", "example", ""),
		}
	default:
		return nil, nil, fmt.Errorf("unknown -store %q (memory, mysql, postgres or dynamo)", f.Store)
	}
	c, err := storeconn.Connect(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", cfg.Backend, err)
	}
	if err := c.Migrate(ctx); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("migrate %s: %w", cfg.Backend, err)
	}
	if s, err = c.Store(); err != nil {
		c.Close()
		return nil, nil, err
	}
	return s, c.Close, nil
}

// Main runs run over the program's arguments, writing to standard output,
// and exits: quietly after -h (run returned flag.ErrHelp: the usage is
// printed), with status 1 after printing the error, prefixed by the
// program's name, when run failed.
func Main(name string, run func(ctx context.Context, w io.Writer, args []string) error) {
	err := run(context.Background(), os.Stdout, os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		return // -h printed the usage
	case err != nil:
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
