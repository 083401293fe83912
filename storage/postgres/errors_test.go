package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/storage"
)

// A write the server answered with a transient error (a deadlock victim,
// a serialization failure, its own lock or statement timeout) was rolled
// back: unavailable, not ambiguous. A
// write that got no answer may have run: ambiguous too. The driver's
// error stays reachable.
func TestWriteErrorClassification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, code := range []string{"40P01", "40001", lockNotAvailable, queryCanceled} {
		err := callErr(ctx, "add member", true, &pgconn.PgError{Code: code})
		netfault.Unavailable(t, err, "server error %s: the statement was rolled back", code)
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr))
	}
	err := callErr(ctx, "add member", true, io.ErrUnexpectedEOF)
	netfault.Ambiguous(t, err)
	// A connection that could not be opened: nothing was sent.
	_, dial := pgconn.Connect(context.Background(), "postgres://nobody@127.0.0.1:1/x?connect_timeout=2")
	var ce *pgconn.ConnectError
	require.True(t, errors.As(dial, &ce), "%v", dial)
	err = callErr(ctx, "update batch", true, dial)
	netfault.Unavailable(t, err, "a refused connection sent nothing")
}

// The caller's context, not the error's type, tells the caller's limit
// from the server's or the transport's: 57014 after the context ended is
// the cancel request pgx sent (a write is ambiguous, with the context's
// error), and a connect timeout wrapping context.DeadlineExceeded under a
// live context is the transport's (unavailable, and nothing was sent).
func TestContextDecides(t *testing.T) {
	t.Parallel()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	err := callErr(ended, "update batch", true, &pgconn.PgError{Code: queryCanceled})
	require.ErrorIs(t, err, storage.ErrAmbiguous)
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, storage.ErrUnavailable)
	err = callErr(ended, "get batch", false, &pgconn.PgError{Code: queryCanceled})
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, storage.ErrUnavailable)

	err = callErr(context.Background(), "get batch", false, fmt.Errorf("dial: %w", context.DeadlineExceeded))
	netfault.Unavailable(t, err, "a transport timeout under a live context")
}
