package mysql

import (
	"github.com/statefold/statefold/internal/option"
	"github.com/statefold/statefold/storage/internal/sqlstore"
)

// DefaultTablePrefix is the table prefix used without [WithTablePrefix]. The
// tables are statefold_batches, statefold_members, statefold_applies and
// statefold_operations.
const DefaultTablePrefix = "statefold_"

// DefaultChunkSize is the number of ids [Store.GetBatches] puts in one
// IN (...) query without [WithChunkSize].
const DefaultChunkSize = sqlstore.DefaultChunkSize

// MaxChunkSize bounds [WithChunkSize]: well below the 65,535 placeholders a
// prepared statement may carry.
const MaxChunkSize = sqlstore.MaxChunkSize

// DefaultChunkConcurrency is how many GetBatches chunks are read at once
// without [WithChunkConcurrency].
const DefaultChunkConcurrency = sqlstore.DefaultConcurrency

// Option configures [New], [Migrate] and [Schema]. Pass the same options to
// all of them. A nil Option is an error matching storage.ErrInvalid.
type Option func(*config)

type config = sqlstore.Config

// WithTablePrefix sets the prefix of the four table names (default
// [DefaultTablePrefix]). It must match ^[A-Za-z_][A-Za-z0-9_]{0,31}$;
// anything else makes New, Migrate and Schema return [storage.ErrInvalid].
func WithTablePrefix(prefix string) Option {
	return func(c *config) { c.Prefix = prefix }
}

// WithChunkSize sets how many ids [Store.GetBatches] sends in one
// IN (...) query (default [DefaultChunkSize]); it must lie in
// [1, MaxChunkSize], otherwise New returns [storage.ErrInvalid].
func WithChunkSize(n int) Option {
	return func(c *config) { c.ChunkSize = n }
}

// WithChunkConcurrency sets how many of one GetBatches call's chunks are
// read at once, each on a connection of the pool (default
// [DefaultChunkConcurrency]; 1 reads them one after another). It must be at
// least 1, otherwise New returns [storage.ErrInvalid].
func WithChunkConcurrency(n int) Option {
	return func(c *config) { c.Concurrency = n }
}

func newConfig(opts []Option) (config, error) {
	c := config{Prefix: DefaultTablePrefix, ChunkSize: DefaultChunkSize, Concurrency: DefaultChunkConcurrency}
	if err := option.Apply(&c, opts); err != nil {
		return config{}, err
	}
	return c, c.Check()
}

// quote quotes a table name.
func quote(name string) string { return "`" + name + "`" }

// tables are the quoted names of the four tables.
func tables(c config) sqlstore.Tables { return c.TablesOf(quote) }

// procedure is the quoted name of the schema's procedure behind MoveBatch.
func procedure(c config) string { return quote(c.Prefix + procedureSuffix) }
