package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/statefold/statefold/storage"
)

// erDupEntry is the server error number of a duplicate primary key, the
// same on MySQL and MariaDB.
const erDupEntry = 1062

// erDeadlock is the server's error for a statement rolled back as a
// deadlock victim.
const erDeadlock = 1213

// erStatementTimeout is MariaDB's error for a statement that ran past
// max_statement_time, and erQueryTimeout MySQL's for a SELECT that ran past
// max_execution_time: the server ended the statement and rolled it back.
const (
	erStatementTimeout = 1969
	erQueryTimeout     = 3024
)

// deadlockRetries bounds how many times a write rolled back as a deadlock
// victim is run again.
const deadlockRetries = 3

func isDuplicate(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && me.Number == erDupEntry
}

// timeWire is how times travel in both directions: a UTC wall-clock string.
// Sending strings (not time.Time, which the driver converts to the DSN's loc)
// and selecting DATE_FORMAT(...) (a string whatever parseTime says) keeps the
// stored values independent of the DSN and of the session time_zone.
const timeWire = "2006-01-02 15:04:05.000000"

// timeArg is the argument for a DATETIME(6) column: NULL for the zero time.
// t is already normalized (UTC, microseconds).
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeWire)
}

// timeCol selects a DATETIME(6) column as its wall-clock string.
func timeCol(col string) string {
	return "DATE_FORMAT(" + col + ", '%Y-%m-%d %H:%i:%s.%f')"
}

// payloadArg is the argument for a NOT NULL blob column: never nil, which
// the driver would send as NULL.
func payloadArg(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}

// dbTime scans a time column whatever the driver hands over: NULL, the
// string DATE_FORMAT yields, or a time.Time (a column read raw with
// parseTime=true, whose wall clock is the stored UTC value in the DSN's loc).
type dbTime struct{ t time.Time }

// Scan implements sql.Scanner.
func (d *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		d.t = time.Time{}
		return nil
	case time.Time:
		d.t = time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(),
			v.Nanosecond(), time.UTC).Truncate(time.Microsecond)
		return nil
	case []byte:
		return d.parse(string(v))
	case string:
		return d.parse(v)
	default:
		return fmt.Errorf("mysql: cannot scan %T into a time", src)
	}
}

func (d *dbTime) parse(s string) error {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", s, time.UTC)
	if err != nil {
		return fmt.Errorf("mysql: parse stored time %q: %w", s, err)
	}
	d.t = t
	return nil
}

// placeholders returns "?, ?, ..., ?" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// transientNumbers are server errors of a statement that may succeed when
// run again: lock wait timeout, deadlock, too many connections, a server
// shutting down, a lost connection, and the server's own statement
// timeouts (MariaDB's max_statement_time, MySQL's max_execution_time),
// which end the statement and roll it back.
var transientNumbers = map[uint16]bool{
	1205: true, 1213: true, 1040: true, 1053: true, 2006: true, 2013: true, 1927: true,
	erStatementTimeout: true, erQueryTimeout: true,
}

// transient reports whether err is a failure to reach or be served by the
// server rather than its answer.
func transient(err error) bool {
	if ctxEnded(err) {
		return false // the caller's own limit
	}
	var me *gomysql.MySQLError
	if errors.As(err, &me) {
		return transientNumbers[me.Number]
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, gomysql.ErrInvalidConn) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// callErr wraps the error of a statement: a transient failure matches
// storage.ErrUnavailable, and a write's also storage.ErrAmbiguous (the
// statement may have run) when it got no answer — not when the server
// answered with an error (a deadlock victim, a lock wait timeout, a
// statement timeout: the statement was rolled back) or it was never sent (driver.ErrBadConn, or
// no connection could be dialled).
//
// A write whose context ended during the call may have been sent and may
// have landed: its error matches storage.ErrAmbiguous and the context's
// error (not ErrUnavailable: the caller's own limit).
func callErr(what string, write bool, err error) error {
	var me *gomysql.MySQLError
	switch {
	case write && ctxEnded(err) && !dialFailed(err) && !errors.Is(err, driver.ErrBadConn):
		return fmt.Errorf("mysql: %s: %w: %w", what, storage.ErrAmbiguous, err)
	case !transient(err):
		return fmt.Errorf("mysql: %s: %w", what, err)
	case write && !errors.Is(err, driver.ErrBadConn) && !errors.As(err, &me) && !dialFailed(err):
		return fmt.Errorf("mysql: %s: %w: %w: %w", what, storage.ErrAmbiguous, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("mysql: %s: %w: %w", what, storage.ErrUnavailable, err)
}

// ctxEnded reports whether err is the caller's context ending.
func ctxEnded(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// dialFailed reports whether err is the failure to open a connection (the
// server refused it, or could not be reached): the statement that needed
// it was never sent.
func dialFailed(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}
