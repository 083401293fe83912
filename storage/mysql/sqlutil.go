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
// erQueryInterrupted is the error of a statement killed by KILL QUERY.
const (
	erStatementTimeout = 1969
	erQueryTimeout     = 3024
	erQueryInterrupted = 1317
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
// timeouts (MariaDB's max_statement_time, MySQL's max_execution_time) and
// a query killed by an administrator (KILL QUERY), which end the statement
// and roll it back.
var transientNumbers = map[uint16]bool{
	1205: true, 1213: true, 1040: true, 1053: true, 2006: true, 2013: true, 1927: true,
	erStatementTimeout: true, erQueryTimeout: true, erQueryInterrupted: true,
}

// transient reports whether err, from a call whose context is still
// live, is a failure to reach or be served by the server rather than its
// answer: a transient server error, a lost or refused connection, or a
// timeout (a dial timeout too, which matches context.DeadlineExceeded but
// is not the caller's).
func transient(err error) bool {
	var me *gomysql.MySQLError
	if errors.As(err, &me) {
		return transientNumbers[me.Number]
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, gomysql.ErrInvalidConn) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded)
}

// errNotSent marks a write that was not sent because its context had
// ended before it.
var errNotSent = errors.New("not sent")

// callErr wraps the error of a statement of a call under ctx: a transient
// failure matches storage.ErrUnavailable, and a write's also
// storage.ErrAmbiguous (the statement may have run) when it got no answer
// — not when the server answered with an error (a deadlock victim, a lock
// wait timeout, a statement timeout, a killed query: the statement was
// rolled back) or it was never sent (driver.ErrBadConn, no connection
// could be dialled, or its context had ended before it).
//
// Whether the call ended by the caller's own limit is told by ctx, never
// by the error's type (a dial timeout matches context.DeadlineExceeded
// too). When ctx has ended, a write that may have been sent may have
// landed: its error matches storage.ErrAmbiguous and the context's error
// (not ErrUnavailable: the caller's own limit); a read's, or an unsent
// write's, the context's error alone.
func callErr(ctx context.Context, what string, write bool, err error) error {
	var me *gomysql.MySQLError
	unsent := dialFailed(err) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, errNotSent)
	if cerr := ctx.Err(); cerr != nil {
		if !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		if write && !unsent {
			return fmt.Errorf("mysql: %s: %w: %w", what, storage.ErrAmbiguous, err)
		}
		return fmt.Errorf("mysql: %s: %w", what, err)
	}
	switch {
	case !transient(err):
		return fmt.Errorf("mysql: %s: %w", what, err)
	case write && !unsent && !errors.As(err, &me):
		return fmt.Errorf("mysql: %s: %w: %w: %w", what, storage.ErrAmbiguous, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("mysql: %s: %w: %w", what, storage.ErrUnavailable, err)
}

// dialFailed reports whether err is the failure to open a connection (the
// server refused it, or could not be reached): the statement that needed
// it was never sent.
func dialFailed(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}
