package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore"
)

// Store is a [storage.Store] over MySQL 8.0+ or MariaDB 10.6+. It is safe for
// concurrent use; every method is a few autocommit statements (a
// compare-and-swap is an UPDATE, and a primary-key read when it changed
// nothing; no transactions). Create it with [New] after running [Migrate].
// Its [storage.Store] methods are those of [storage.Checked] around the
// driver: every input is checked before any I/O.
type Store struct {
	checkedStore
	d    *sqlstore.Store
	db   *sql.DB
	move string // the quoted name of the procedure behind MoveBatch
}

// checkedStore is the portable layer around the driver, with the
// capabilities it offers (see [sqlstore.Checked]).
type checkedStore = sqlstore.Checked

var _ checkedStore = (*Store)(nil)

// New returns a Store over db. It does no I/O: run [Migrate] with the same
// options first. A nil db, a nil option or an invalid one is an error
// matching [storage.ErrInvalid].
//
// The Store does not depend on DSN parameters (parseTime, loc,
// clientFoundRows, interpolateParams) nor on the session's time_zone or
// sql_mode. The connection character set must be the driver's default
// utf8mb4 (or binary), so that every valid UTF-8 key reaches the server
// unchanged.
func New(db *sql.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, storage.Invalid("db", "nil *sql.DB")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	d := sqlstore.New(dialect{db: db, move: procedure(c)}, tables(c), c.ChunkSize, c.Concurrency)
	return &Store{sqlstore.Check(d), d, db, procedure(c)}, nil
}

// dialect is MySQL's [sqlstore.Dialect] over a *sql.DB; move is the
// quoted name of the schema's procedure behind Move.
type dialect struct {
	db   *sql.DB
	move string
}

func (dialect) Name() string { return "mysql" }

// exec runs a write statement, and runs it again (up to deadlockRetries
// times in all) when the server rolled it back as a deadlock victim:
// concurrent upserts of neighbouring index rows can deadlock in InnoDB, and
// a rolled-back statement had no effect.
func (d dialect) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	for attempt := 1; ; attempt++ {
		res, err := d.db.ExecContext(ctx, query, args...)
		var me *gomysql.MySQLError
		if err == nil || attempt >= deadlockRetries || !errors.As(err, &me) || me.Number != erDeadlock {
			return res, err
		}
	}
}

// Exec counts changed rows by default and matched rows with
// clientFoundRows=true; the two agree for the store's UPDATEs because they
// always change version.
func (d dialect) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

func (d dialect) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.db.QueryRowContext(ctx, query, args...)
}

func (d dialect) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// sqlRows drops the error of Close: the rows' error is Err's.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// AddMember reads the statement's insert id: when the stored version is
// higher, LAST_INSERT_ID(version) hands it over (the table has no
// AUTO_INCREMENT column, so it is 0 otherwise). Rows affected cannot
// tell: with clientFoundRows an untouched duplicate counts 1, like an
// insert.
func (d dialect) AddMember(ctx context.Context, query string, args ...any) (bool, int64, error) {
	res, err := d.exec(ctx, query, args...)
	if err != nil {
		return false, 0, err
	}
	stored, err := res.LastInsertId()
	if err != nil {
		return false, 0, fmt.Errorf("insert id: %w", err)
	}
	return stored != 0, stored, nil
}

func (dialect) Bind(query string) string { return query }

// TimeCol selects a DATETIME(6) column as its wall-clock string.
func (dialect) TimeCol(col string) string {
	return "DATE_FORMAT(" + col + ", '%Y-%m-%d %H:%i:%s.%f')"
}

func (dialect) InIDs(n int) string { return "(" + sqlstore.Marks(n) + ")" }

func (dialect) IDArgs(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// AddMemberSQL assigns added_at before version so that both IF()s compare
// against the stored (old) version: MySQL evaluates the assignments left
// to right, MariaDB too (or all against old values under
// SIMULTANEOUS_ASSIGNMENT) — either way the result is the same. When the
// stored version is higher, the row keeps its values and
// LAST_INSERT_ID(version) (evaluated only in that branch of the IF) hands
// the stored version to the client: the statement decides the conflict
// atomically.
func (dialect) AddMemberSQL(table string) string {
	return "INSERT INTO " + table + " (queue, state, batch_id, version, added_at) VALUES (?, ?, ?, ?, ?)" +
		" ON DUPLICATE KEY UPDATE" +
		" added_at = IF(VALUES(version) >= version, VALUES(added_at), added_at)," +
		" version = IF(VALUES(version) >= version, VALUES(version), LAST_INSERT_ID(version))"
}

// timeWire is how times travel in both directions: a UTC wall-clock string.
// Sending strings (not time.Time, which the driver converts to the DSN's loc)
// and selecting DATE_FORMAT(...) (a string whatever parseTime says) keeps the
// stored values independent of the DSN and of the session time_zone.
const timeWire = "2006-01-02 15:04:05.000000"

// TimeArg is the argument for a DATETIME(6) column: NULL for the zero time.
func (dialect) TimeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeWire)
}

// ScanTime takes whatever the driver hands over: NULL, the string
// DATE_FORMAT yields, or a time.Time (a column read raw with
// parseTime=true, whose wall clock is the stored UTC value in the DSN's
// loc).
func (dialect) ScanTime(src any) (time.Time, error) {
	switch v := src.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(),
			v.Nanosecond(), time.UTC).Truncate(time.Microsecond), nil
	case []byte:
		return parseTime(string(v))
	case string:
		return parseTime(v)
	}
	return time.Time{}, fmt.Errorf("mysql: cannot scan %T into a time", src)
}

func parseTime(s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("mysql: parse stored time %q: %w", s, err)
	}
	return t, nil
}

func (dialect) KeyArg(s string) any { return s }

func (dialect) NoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
