package postgres

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
)

// A write the server answered with a transient error (a deadlock victim,
// a serialization failure) was rolled back: unavailable, not ambiguous. A
// write that got no answer may have run: ambiguous too. The driver's
// error stays reachable.
func TestWriteErrorClassification(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"40P01", "40001"} {
		err := callErr("add member", true, &pgconn.PgError{Code: code})
		netfault.Unavailable(t, err, "server error %s: the statement was rolled back", code)
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr))
	}
	err := callErr("add member", true, io.ErrUnexpectedEOF)
	netfault.Ambiguous(t, err)
	// A connection that could not be opened: nothing was sent.
	_, dial := pgconn.Connect(context.Background(), "postgres://nobody@127.0.0.1:1/x?connect_timeout=2")
	var ce *pgconn.ConnectError
	require.True(t, errors.As(dial, &ce), "%v", dial)
	err = callErr("update batch", true, dial)
	netfault.Unavailable(t, err, "a refused connection sent nothing")
}
