// Package storeconn opens the backend a program names by a word — memory,
// mysql, postgres or dynamo — for the statefold command and the example
// programs: it connects, opens the backend's Store over the connection,
// creates or migrates its tables, and closes the connection.
package storeconn

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/go-sql-driver/mysql" // the driver of the mysql backend
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/dynamo"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storage/mysql"
	"github.com/statefold/statefold/storage/postgres"
)

// Config names a backend and says how to reach it.
type Config struct {
	// Backend is "memory", "mysql", "postgres" or "dynamo".
	Backend string
	// DSN is the address of the mysql or postgres server.
	DSN string
	// Dynamo are the options of the dynamo client: region, credentials,
	// endpoint.
	Dynamo dynamodb.Options
	// Prefix is the table prefix of mysql, postgres and dynamo.
	Prefix string
}

// Conn is an open connection to a backend: the one field of its backend
// is set.
type Conn struct {
	// DB is the mysql connection pool.
	DB *sql.DB
	// Pool is the postgres connection pool.
	Pool *pgxpool.Pool
	// Client is the dynamo client.
	Client *dynamodb.Client

	mem    storage.Store
	prefix string
}

// Connect opens the connection cfg names. The drivers connect lazily: a
// wrong address shows at the first call. An unknown backend is an error.
func Connect(ctx context.Context, cfg Config) (*Conn, error) {
	c := &Conn{prefix: cfg.Prefix}
	var err error
	switch cfg.Backend {
	case "memory":
		c.mem = memory.New()
	case "mysql":
		c.DB, err = sql.Open("mysql", cfg.DSN)
	case "postgres":
		c.Pool, err = pgxpool.New(ctx, cfg.DSN)
	case "dynamo":
		c.Client = dynamodb.New(cfg.Dynamo)
	default:
		return nil, fmt.Errorf("unknown backend %q (memory, mysql, postgres or dynamo)", cfg.Backend)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Store returns the backend's Store over the connection (with the table
// prefix); a prefix the backend refuses is an error matching
// storage.ErrInvalid. Each call of the memory backend returns the same
// Store.
func (c *Conn) Store() (storage.Store, error) {
	switch {
	case c.DB != nil:
		return mysql.New(c.DB, mysql.WithTablePrefix(c.prefix))
	case c.Pool != nil:
		return postgres.New(c.Pool, postgres.WithTablePrefix(c.prefix))
	case c.Client != nil:
		return dynamo.New(c.Client, dynamo.WithTablePrefix(c.prefix))
	}
	return c.mem, nil
}

// Migrate creates the backend's tables or adds what this release reads;
// the memory backend has none.
func (c *Conn) Migrate(ctx context.Context) error {
	switch {
	case c.DB != nil:
		return mysql.Migrate(ctx, c.DB, mysql.WithTablePrefix(c.prefix))
	case c.Pool != nil:
		return postgres.Migrate(ctx, c.Pool, postgres.WithTablePrefix(c.prefix))
	case c.Client != nil:
		return dynamo.CreateTables(ctx, c.Client, dynamo.WithTablePrefix(c.prefix))
	}
	return nil
}

// Close closes the connection.
func (c *Conn) Close() {
	if c.DB != nil {
		_ = c.DB.Close()
	}
	if c.Pool != nil {
		c.Pool.Close()
	}
}
