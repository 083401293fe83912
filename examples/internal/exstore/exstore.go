// Package exstore is what the example programs share: the store they run
// on, chosen by the -store flag (the in-memory default, MySQL / MariaDB,
// PostgreSQL or DynamoDB), and their main.
package exstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/go-sql-driver/mysql" // the MySQL driver for -store mysql
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/dynamo"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storage/mysql"
	"github.com/statefold/statefold/storage/postgres"
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
	switch f.Store {
	case "", "memory":
		return memory.New(), func() {}, nil
	case "mysql":
		return openSQL(f.DSN, "mysql", "STATEFOLD_MYSQL_DSN",
			func(dsn string) (*sql.DB, error) { return sql.Open("mysql", dsn) },
			func(db *sql.DB) { db.Close() },
			func(db *sql.DB) error { return mysql.Migrate(ctx, db, mysql.WithTablePrefix(f.Prefix)) },
			func(db *sql.DB) (storage.Store, error) { return mysql.New(db, mysql.WithTablePrefix(f.Prefix)) })
	case "postgres":
		return openSQL(f.DSN, "postgres", "STATEFOLD_POSTGRES_DSN",
			func(dsn string) (*pgxpool.Pool, error) { return pgxpool.New(ctx, dsn) },
			(*pgxpool.Pool).Close,
			func(pool *pgxpool.Pool) error { return postgres.Migrate(ctx, pool, postgres.WithTablePrefix(f.Prefix)) },
			func(pool *pgxpool.Pool) (storage.Store, error) {
				return postgres.New(pool, postgres.WithTablePrefix(f.Prefix))
			})
	case "dynamo":
		if f.Endpoint == "" {
			return nil, nil, fmt.Errorf("-store dynamo needs -endpoint or STATEFOLD_DYNAMO_ENDPOINT")
		}
		client := dynamodb.New(dynamodb.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(f.Endpoint),
			Credentials:  credentials.NewStaticCredentialsProvider("example", "example", ""),
		})
		if err := dynamo.CreateTables(ctx, client, dynamo.WithTablePrefix(f.Prefix)); err != nil {
			return nil, nil, fmt.Errorf("create dynamo tables: %w", err)
		}
		s, err := dynamo.New(client, dynamo.WithTablePrefix(f.Prefix))
		if err != nil {
			return nil, nil, err
		}
		return s, func() {}, nil
	default:
		return nil, nil, fmt.Errorf("unknown -store %q (memory, mysql, postgres or dynamo)", f.Store)
	}
}

// openSQL opens the store of a SQL server: it connects to dsn (or, when
// dsn is empty, the one in the environment variable env), migrates the
// schema and returns the store with what closes the connection.
func openSQL[C any](dsn, name, env string, connect func(dsn string) (C, error), closeConn func(C),
	migrate func(C) error, open func(C) (storage.Store, error),
) (storage.Store, func(), error) {
	dsn = cmp.Or(dsn, os.Getenv(env))
	if dsn == "" {
		return nil, nil, fmt.Errorf("-store %s needs -dsn or %s", name, env)
	}
	conn, err := connect(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	if err := migrate(conn); err != nil {
		closeConn(conn)
		return nil, nil, fmt.Errorf("migrate %s: %w", name, err)
	}
	st, err := open(conn)
	if err != nil {
		closeConn(conn)
		return nil, nil, err
	}
	return st, func() { closeConn(conn) }, nil
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
