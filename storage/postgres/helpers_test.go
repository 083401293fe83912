package postgres

import (
	"context"
	"time"

	"github.com/statefold/statefold/storage/internal/sqlstore"
)

// The dialect's encodings and the shared classification, as the tests
// spell them.
func key(s string) []byte { return []byte(s) }

func timeArg(t time.Time) any { return dialect{}.TimeArg(t) }

func payloadArg(p []byte) []byte { return sqlstore.PayloadArg(p) }

func callErr(ctx context.Context, what string, write bool, err error) error {
	return sqlstore.CallErr(ctx, dialect{}, what, write, err)
}
