package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore"
)

// DB is the part of pgx a [Store] uses: *pgxpool.Pool and *pgx.Conn
// implement it (a *pgx.Conn serves one call at a time, so GetBatches then
// reads its chunks one after another).
type DB interface {
	// Exec runs a statement that returns no rows.
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	// Query runs a statement that returns rows.
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	// QueryRow runs a statement that returns at most one row.
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var _ DB = (*pgx.Conn)(nil)

// Store is a [storage.Store] over PostgreSQL. It is safe for concurrent use
// when its DB is (a pool is).
// Its [storage.Store] methods are those of [storage.Checked] around the
// driver: every input is checked before any I/O.
type Store struct {
	checkedStore
	d *sqlstore.Store
}

// checkedStore is the portable layer around the driver, with the
// capabilities it offers (see [sqlstore.Checked]).
type checkedStore = sqlstore.Checked

var _ checkedStore = (*Store)(nil)

// New returns a Store over db. It does no I/O: run [Migrate] with the same
// options first. A nil db, a nil option or an invalid one is an error
// matching storage.ErrInvalid; so is a [WithChunkConcurrency] above 1 on a
// *pgx.Conn or a pgx.Tx, which serve one call at a time (their default is
// 1).
func New(db DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, storage.Invalid("db", "nil DB")
	}
	single := false
	switch db.(type) {
	case *pgx.Conn, pgx.Tx:
		single = true
	}
	c, err := newConfig(opts, single)
	if err != nil {
		return nil, err
	}
	d := sqlstore.New(dialect{db}, tables(c), c.ChunkSize, c.Concurrency)
	return &Store{sqlstore.Check(d), d}, nil
}

// dialect is PostgreSQL's [sqlstore.Dialect] over pgx.
type dialect struct{ db DB }

func (dialect) Name() string { return "postgres" }

func (d dialect) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.db.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (d dialect) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.db.QueryRow(ctx, query, args...)
}

func (d dialect) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return d.db.Query(ctx, query, args...)
}

// AddMember runs the conditional upsert: no row returned means a newer row
// is stored.
func (d dialect) AddMember(ctx context.Context, query string, args ...any) (bool, int64, error) {
	var v int64
	err := d.db.QueryRow(ctx, query, args...).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, 0, nil
	}
	return false, 0, err
}

// Bind numbers the marks: $1, $2, ...
func (dialect) Bind(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (dialect) TimeCol(col string) string { return col }

// InIDs reads the ids from one array: with id = ANY($2) the planner
// estimates every element of a 1,000-id array, and List took twice as
// long.
func (dialect) InIDs(int) string { return "(SELECT unnest(?::bytea[]))" }

func (dialect) IDArgs(ids []string) []any {
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = []byte(id)
	}
	return []any{keys}
}

// AddMemberSQL decides atomically: the row is written when absent or not
// newer; otherwise nothing is returned.
func (dialect) AddMemberSQL(table string) string {
	return "INSERT INTO " + table + " AS m (queue, state, batch_id, version, added_at) VALUES (?, ?, ?, ?, ?)" +
		" ON CONFLICT (queue, state, batch_id) DO UPDATE SET version = EXCLUDED.version, added_at = EXCLUDED.added_at" +
		" WHERE m.version <= EXCLUDED.version RETURNING m.version"
}

// TimeArg is a time for a TIMESTAMPTZ column: NULL for the zero time.
func (dialect) TimeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// ScanTime returns a TIMESTAMPTZ as a UTC time, zero for NULL.
func (dialect) ScanTime(src any) (time.Time, error) {
	switch v := src.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return storage.NormalizeTime(v), nil
	}
	return time.Time{}, fmt.Errorf("postgres: cannot scan %v into a time", src)
}

// KeyArg is the bytes of a BYTEA column.
func (dialect) KeyArg(s string) any { return []byte(s) }

func (dialect) NoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
