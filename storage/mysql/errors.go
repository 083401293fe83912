package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	gomysql "github.com/go-sql-driver/mysql"
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

func (dialect) Duplicate(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && me.Number == erDupEntry
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

// Transient reports a transient server error, a lost or refused
// connection, or a timeout (a dial timeout too, which matches
// context.DeadlineExceeded but is not the caller's).
func (dialect) Transient(err error) bool {
	var me *gomysql.MySQLError
	if errors.As(err, &me) {
		return transientNumbers[me.Number]
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, gomysql.ErrInvalidConn) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded)
}

// Unsent reports driver.ErrBadConn (database/sql retries on another
// connection; the statement was not sent) and the failure to open a
// connection (refused, unreachable).
func (dialect) Unsent(err error) bool {
	var oe *net.OpError
	return errors.Is(err, driver.ErrBadConn) || (errors.As(err, &oe) && oe.Op == "dial")
}

// Answered reports a server error: a deadlock victim, a lock wait
// timeout, a statement timeout or a killed query was rolled back.
func (dialect) Answered(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me)
}
