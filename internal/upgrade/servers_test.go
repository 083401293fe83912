package upgrade

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/statefold/statefold/internal/testenv"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/dynamo"
	"github.com/statefold/statefold/storage/mysql"
	"github.com/statefold/statefold/storage/postgres"
)

// backends are the servers the upgrade runs on, with the variable that
// gives each one's address (scripts/backends.sh exports them).
var backends = []struct{ name, env string }{
	{"mysql", "STATEFOLD_MYSQL_DSN"},
	{"postgres", "STATEFOLD_POSTGRES_DSN"},
	{"dynamo", "STATEFOLD_DYNAMO_ENDPOINT"},
}

// tables is one backend's tables under a prefix unique to the test, as
// today's release reaches them.
type tables struct {
	srv    server
	prefix string
	// migrate runs today's schema step: mysql.Migrate, postgres.Migrate,
	// dynamo.CreateTables.
	migrate func(ctx context.Context) error
	// open returns today's store over the tables (after migrate).
	open func(ctx context.Context) (storage.Store, error)
}

// onEachBackend runs f in a subtest per backend, under a context that
// ends after timeout. A backend without an address fails the subtest when
// backends are required (make test, CI) and skips it otherwise.
func onEachBackend(t *testing.T, timeout time.Duration, f func(ctx context.Context, t *testing.T, tb tables)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			addr := os.Getenv(b.env)
			if addr == "" {
				if os.Getenv("CI") == "true" {
					t.Fatalf("CI=true but %s is unset: run the test under scripts/backends.sh", b.env)
				}
				testenv.Unavailable(t, "%s is unset: run the test under scripts/backends.sh", b.env)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			f(ctx, t, newTables(t, server{backend: b.name, addr: addr}))
		})
	}
}

// newTables picks a unique prefix on srv and drops every table under it
// when the test ends.
func newTables(t *testing.T, srv server) tables {
	t.Helper()
	prefix := testenv.TablePrefix()
	tb := tables{srv: srv, prefix: prefix}
	ctx := context.Background()
	switch srv.backend {
	case "mysql":
		db, err := sql.Open("mysql", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			dropSQL(t, func(ctx context.Context, q string, args ...any) ([]string, error) {
				rows, err := db.QueryContext(ctx, q, args...)
				if err != nil {
					return nil, err
				}
				defer rows.Close()
				return names(rows)
			}, func(ctx context.Context, q string) error { _, err := db.ExecContext(ctx, q); return err },
				"SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?", "`", prefix)
			_ = db.Close()
		})
		tb.migrate = func(ctx context.Context) error { return mysql.Migrate(ctx, db, mysql.WithTablePrefix(prefix)) }
		tb.open = func(ctx context.Context) (storage.Store, error) {
			s, err := mysql.New(db, mysql.WithTablePrefix(prefix))
			if err != nil {
				return nil, err
			}
			return s, check(ctx, s)
		}
	case "postgres":
		pool, err := pgxpool.New(ctx, srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			dropSQL(t, func(ctx context.Context, q string, args ...any) ([]string, error) {
				rows, err := pool.Query(ctx, q, args...)
				if err != nil {
					return nil, err
				}
				defer rows.Close()
				return names(rows)
			}, func(ctx context.Context, q string) error { _, err := pool.Exec(ctx, q); return err },
				"SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE $1", `"`, prefix)
			pool.Close()
		})
		tb.migrate = func(ctx context.Context) error { return postgres.Migrate(ctx, pool, postgres.WithTablePrefix(prefix)) }
		tb.open = func(ctx context.Context) (storage.Store, error) {
			s, err := postgres.New(pool, postgres.WithTablePrefix(prefix))
			if err != nil {
				return nil, err
			}
			return s, check(ctx, s)
		}
	case "dynamo":
		client := dynamodb.New(dynamodb.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(srv.addr),
			Credentials:  credentials.NewStaticCredentialsProvider("statefold", "statefold", ""),
		})
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := dynamo.DeleteTables(ctx, client, dynamo.WithTablePrefix(prefix)); err != nil {
				t.Errorf("delete tables %s*: %v", prefix, err)
			}
		})
		tb.migrate = func(ctx context.Context) error {
			return dynamo.CreateTables(ctx, client, dynamo.WithTablePrefix(prefix))
		}
		tb.open = func(ctx context.Context) (storage.Store, error) {
			s, err := dynamo.New(client, dynamo.WithTablePrefix(prefix))
			if err != nil {
				return nil, err
			}
			return s, check(ctx, s)
		}
	}
	return tb
}

// check runs the store's startup check where the backend has one.
func check(ctx context.Context, s any) error {
	if c, ok := s.(interface{ Check(context.Context) error }); ok {
		return c.Check(ctx)
	}
	return nil
}

// names reads a column of strings.
func names(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) ([]string, error) {
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// dropSQL drops every table whose name starts with prefix.
func dropSQL(t *testing.T, query func(ctx context.Context, q string, args ...any) ([]string, error),
	exec func(ctx context.Context, q string) error, list, quote, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names, err := query(ctx, list, strings.ReplaceAll(prefix, "_", `\_`)+"%")
	if err != nil {
		t.Errorf("list tables %s*: %v", prefix, err)
		return
	}
	for _, n := range names {
		if err := exec(ctx, "DROP TABLE IF EXISTS "+quote+n+quote); err != nil {
			t.Errorf("drop table %s: %v", n, err)
		}
	}
}

// ready migrates the tables with today's release and opens today's store.
func (tb tables) ready(t *testing.T) storage.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := tb.migrate(ctx); err != nil {
		t.Fatalf("today's migrate on %s: %v", tb.srv.backend, err)
	}
	st, err := tb.open(ctx)
	if err != nil {
		t.Fatalf("today's store on %s: %v", tb.srv.backend, err)
	}
	return st
}
