package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/statefold/statefold/internal/storeconn"
	"github.com/statefold/statefold/storage"
)

// resolvedDSN is --dsn, else the variable the tests use for the store.
func (e *env) resolvedDSN() string {
	switch e.store {
	case "mysql":
		return cmp.Or(e.dsn.s, e.getenv("STATEFOLD_MYSQL_DSN"))
	case "postgres":
		return cmp.Or(e.dsn.s, e.getenv("STATEFOLD_POSTGRES_DSN"))
	}
	return ""
}

// where names the store for messages and -o json, with no password.
func (e *env) where() string {
	switch e.store {
	case "mysql", "postgres":
		return e.store + " " + redactDSN(e.resolvedDSN())
	case "dynamo":
		return "dynamo " + cmp.Or(e.endpoint, "AWS "+e.awsRegion())
	}
	return e.store
}

func (e *env) awsRegion() string {
	return cmp.Or(e.region, e.getenv("AWS_REGION"), e.getenv("AWS_DEFAULT_REGION"), "us-east-1")
}

// conn is an open connection to the selected backend.
type conn struct {
	e *env
	*storeconn.Conn
}

// connect opens the selected backend. The drivers connect lazily: a
// wrong address shows at the first call.
func (e *env) connect(ctx context.Context) (*conn, error) {
	cfg := storeconn.Config{Backend: e.store, Prefix: e.prefix}
	switch e.store {
	case "mysql", "postgres":
		cfg.DSN = e.resolvedDSN()
		if cfg.DSN == "" {
			env := map[string]string{"mysql": "STATEFOLD_MYSQL_DSN", "postgres": "STATEFOLD_POSTGRES_DSN"}[e.store]
			return nil, usagef("--store %s needs --dsn or %s", e.store, env)
		}
	case "dynamo":
		creds := credentials.NewStaticCredentialsProvider(e.getenv("AWS_ACCESS_KEY_ID"), e.getenv("AWS_SECRET_ACCESS_KEY"), e.getenv("AWS_SESSION_TOKEN"))
		if e.getenv("AWS_ACCESS_KEY_ID") == "" {
			if e.endpoint == "" {
				return nil, usagef("--store dynamo needs --endpoint (or STATEFOLD_DYNAMO_ENDPOINT), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for AWS")
			}
			creds = credentials.NewStaticCredentialsProvider("statefold", "statefold", "")
		}
		cfg.Dynamo = dynamodb.Options{Region: e.awsRegion(), Credentials: creds}
		if e.endpoint != "" {
			cfg.Dynamo.BaseEndpoint = aws.String(e.endpoint)
		}
	}
	c, err := storeconn.Connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", e.where(), err)
	}
	return &conn{e: e, Conn: c}, nil
}

// openStore checks the keys the command was given (pairs of field name
// and value: a bad one is a usage error), connects and returns the Store
// and what releases it.
func (e *env) openStore(ctx context.Context, keys ...string) (storage.Store, func(), error) {
	if err := storage.ValidateKeys(keys...); err != nil {
		return nil, nil, usagef("%v", err)
	}
	c, err := e.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	s, err := c.storage()
	if err != nil {
		c.close()
		return nil, nil, err
	}
	return s, c.close, nil
}

// withStore opens the store as openStore does, runs f over it and
// releases it.
func (e *env) withStore(ctx context.Context, keys []string, f func(storage.Store) error) error {
	s, closeFn, err := e.openStore(ctx, keys...)
	if err != nil {
		return err
	}
	defer closeFn()
	return f(s)
}

func (c *conn) close() { c.Close() }

// storage returns the backend's Store over the connection; a table
// prefix the backend refuses is a usage error.
func (c *conn) storage() (storage.Store, error) {
	s, err := c.Store()
	if errors.Is(err, storage.ErrInvalid) {
		return nil, usagef("--table-prefix %q: %v", c.e.prefix, err)
	}
	return s, err
}

// migrate creates the tables or adds what this release reads.
func (c *conn) migrate(ctx context.Context) error { return c.Migrate(ctx) }

// checker is a store that checks its tables itself (mysql.Store today).
type checker interface {
	Check(ctx context.Context) error
}

// check runs the store's own Check when it has one, and otherwise reads
// each of the four tables once (a key no row has): a missing table fails.
// It reports which of the two it ran.
func (c *conn) check(ctx context.Context) (how string, err error) {
	s, err := c.storage()
	if err != nil {
		return "", err
	}
	if ch, ok := s.(checker); ok {
		return "Check", ch.Check(ctx)
	}
	return "probe", probe(ctx, s)
}

// probeID is the id probe reads: no row has it.
const probeID = "statefold-cli-probe"

// probe reads each table once; every read must find nothing.
func probe(ctx context.Context, s storage.Store) error {
	reads := []struct {
		table string
		read  func() error
	}{
		{"applies", func() error { _, err := s.GetApply(ctx, probeID); return err }},
		{"operations", func() error { _, err := s.GetOperation(ctx, probeID, probeID); return err }},
		{"batches", func() error { _, err := s.GetBatch(ctx, probeID, probeID); return err }},
		{"members", func() error { _, err := s.ListMembers(ctx, probeID, probeID); return err }},
	}
	for _, r := range reads {
		if err := r.read(); err != nil && !isNotFound(err) {
			return fmt.Errorf("read the %s table (store migrate creates the tables): %w", r.table, err)
		}
	}
	return nil
}
