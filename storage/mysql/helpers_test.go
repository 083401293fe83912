package mysql

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage/internal/sqlstore"
	"github.com/statefold/statefold/storage/internal/sqlstore/sqltest"
)

// The dialect's encodings and the shared classification, as the tests
// spell them.
func timeCol(col string) string { return dialect{}.TimeCol(col) }

func timeArg(t time.Time) any { return dialect{}.TimeArg(t) }

func payloadArg(p []byte) []byte { return sqlstore.PayloadArg(p) }

func callErr(ctx context.Context, what string, write bool, err error) error {
	return sqlstore.CallErr(ctx, dialect{}, what, write, err)
}

var errNotSent = sqlstore.ErrNotSent

// The package doc states the defaults the code has.
func TestDocStatesTheDefaults(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	sqltest.DocStatesTheDefaults(t, string(doc), DefaultChunkSize, DefaultChunkConcurrency)
}
