package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/storage"
)

// A write the server answered with a transient error (a deadlock victim,
// a lock wait timeout, a statement timeout) was rolled back: unavailable, not ambiguous. A
// write that got no answer may have run: ambiguous too. The driver's
// error stays reachable.
func TestWriteErrorClassification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// MySQL's max_execution_time (3024) cannot be produced on MariaDB:
	// it is covered here; MariaDB's max_statement_time (1969) also on the
	// server, by TestServerTimeoutIsUnavailable.
	for _, n := range []uint16{erDeadlock, 1205, erStatementTimeout, erQueryTimeout, erQueryInterrupted} {
		err := callErr(ctx, "add member", true, &gomysql.MySQLError{Number: n, Message: "rolled back"})
		netfault.Unavailable(t, err, "server error %d: the statement was rolled back", n)
		var me *gomysql.MySQLError
		require.True(t, errors.As(err, &me))
	}
	// A read the server timed out is unavailable too.
	for _, n := range []uint16{erStatementTimeout, erQueryTimeout} {
		err := callErr(ctx, "get batch", false, &gomysql.MySQLError{Number: n, Message: "timed out"})
		netfault.Unavailable(t, err, "server error %d on a read", n)
	}
	err := callErr(ctx, "add member", true, io.ErrUnexpectedEOF)
	netfault.Ambiguous(t, err)
	// A connection that could not be opened: nothing was sent.
	err = callErr(ctx, "update batch", true, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	netfault.Unavailable(t, err, "a refused dial sent nothing")
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	err = callErr(ctx, "update batch", true, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET})
	netfault.Ambiguous(t, err, "a connection lost while waiting for the reply")
	// The caller's context ended (the context says so, not the error):
	// ambiguous once the statement may have gone out, not while dialling
	// nor when it was never sent.
	ended, cancel := context.WithCancel(ctx)
	cancel()
	err = callErr(ended, "update batch", true, fmt.Errorf("read: %w", context.Canceled))
	require.ErrorIs(t, err, storage.ErrAmbiguous)
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, storage.ErrUnavailable, "the caller's own limit")
	err = callErr(ended, "update batch", true, &gomysql.MySQLError{Number: erQueryInterrupted})
	require.ErrorIs(t, err, storage.ErrAmbiguous, "the context decides, whatever the error")
	require.ErrorIs(t, err, context.Canceled)
	err = callErr(ended, "update batch", true, &net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled})
	require.NotErrorIs(t, err, storage.ErrAmbiguous, "a dial cut short sent nothing")
	require.ErrorIs(t, err, context.Canceled)
	err = callErr(ended, "update batch", true, fmt.Errorf("%w: %w", errNotSent, context.Canceled))
	require.NotErrorIs(t, err, storage.ErrAmbiguous, "never sent")
	require.ErrorIs(t, err, context.Canceled)
	// A dial timeout under a live context is the transport's, though it
	// matches context.DeadlineExceeded: unavailable, nothing sent.
	err = callErr(ctx, "update batch", true, &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("i/o timeout: %w", context.DeadlineExceeded)})
	netfault.Unavailable(t, err, "a dial timeout")
	err = callErr(ctx, "get batch", false, &gomysql.MySQLError{Number: erDupEntry})
	require.NotErrorIs(t, err, storage.ErrUnavailable)
}
