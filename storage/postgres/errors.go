package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// lockNotAvailable (lock_timeout) and queryCanceled (statement_timeout,
// or a cancel request) are the SQLSTATEs of a statement the server ended
// and rolled back.
const (
	lockNotAvailable = "55P03"
	queryCanceled    = "57014"
)

func (dialect) Duplicate(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == uniqueViolation
}

// Transient reports a connection error, a timeout (a dial or connect
// timeout too, even when it wraps context.DeadlineExceeded: that is not
// the caller's), or a server-side condition that clears (SQLSTATE class
// 08 connection exception, 53300 too many connections, 57P01-57P03
// shutdown, 40001 serialization failure, 40P01 deadlock, and the server's
// own timeouts, which roll the statement back: 55P03 lock_timeout, 57014
// statement_timeout).
func (dialect) Transient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch c := pgErr.Code; {
		case strings.HasPrefix(c, "08"), c == "53300", c == "57P01", c == "57P02", c == "57P03", c == "40001", c == "40P01",
			c == lockNotAvailable, c == queryCanceled:
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return pgconn.Timeout(err) || errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "conn closed")
}

// Unsent reports what pgx says was never sent (pgconn.SafeToRetry) and a
// connection that could not be opened (*pgconn.ConnectError: refused,
// unreachable, failed at startup). Whether the call ended by the caller's
// own limit is told by its context: a statement_timeout and the cancel
// request pgx sends when the context ends are both 57014.
func (dialect) Unsent(err error) bool {
	var ce *pgconn.ConnectError
	return pgconn.SafeToRetry(err) || errors.As(err, &ce)
}

// Answered reports a server error: a deadlock victim, a serialization
// failure or a timeout was rolled back.
func (dialect) Answered(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}
