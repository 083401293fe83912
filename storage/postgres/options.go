package postgres

import (
	"github.com/statefold/statefold/internal/option"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore"
)

// Option configures [New], [Migrate] and [Schema]. Pass the same options to
// all of them. A nil Option is an error matching storage.ErrInvalid.
type Option func(*config)

type config = sqlstore.Config

// WithSchema puts the tables in the named PostgreSQL schema (default: none,
// so the connection's search_path decides, usually public). It must match
// ^[A-Za-z_][A-Za-z0-9_]{0,62}$ and exist ([Migrate] does not create it).
func WithSchema(schema string) Option { return func(c *config) { c.Schema = schema } }

// WithTablePrefix sets the prefix of the four table names (default
// [DefaultTablePrefix]). It must match ^[A-Za-z_][A-Za-z0-9_]{0,31}$;
// anything else makes New, Migrate and Schema return an error matching
// storage.ErrInvalid.
func WithTablePrefix(prefix string) Option { return func(c *config) { c.Prefix = prefix } }

// WithChunkSize sets how many ids [Store.GetBatches] sends in one query
// (default [DefaultChunkSize]); it must lie in [1, MaxChunkSize].
func WithChunkSize(n int) Option { return func(c *config) { c.ChunkSize = n } }

// WithChunkConcurrency sets how many of one GetBatches call's chunks are
// read at once (default [DefaultChunkConcurrency] on a pool, 1 on a
// *pgx.Conn or a pgx.Tx; 1 reads them one after another). It must be at
// least 1, and 1 on a single connection.
func WithChunkConcurrency(n int) Option { return func(c *config) { c.Concurrency = n } }

// The defaults and bounds of the options.
const (
	// DefaultTablePrefix is the table prefix used without [WithTablePrefix]:
	// the tables are statefold_batches, statefold_members, statefold_applies
	// and statefold_operations.
	DefaultTablePrefix = "statefold_"
	// DefaultChunkSize is how many ids [Store.GetBatches] reads with one
	// query without [WithChunkSize], and MaxChunkSize the most it accepts.
	DefaultChunkSize = sqlstore.DefaultChunkSize
	MaxChunkSize     = sqlstore.MaxChunkSize
	// DefaultChunkConcurrency is how many GetBatches chunks a pool reads at
	// once without [WithChunkConcurrency].
	DefaultChunkConcurrency = sqlstore.DefaultConcurrency
)

// newConfig applies opts; single says that the DB serves one call at a
// time.
func newConfig(opts []Option, single bool) (config, error) {
	c := config{Prefix: DefaultTablePrefix, ChunkSize: DefaultChunkSize, Concurrency: DefaultChunkConcurrency}
	if single {
		c.Concurrency = 1
	}
	if err := option.Apply(&c, opts); err != nil {
		return config{}, err
	}
	if single && c.Concurrency > 1 {
		return config{}, storage.Invalid("WithChunkConcurrency", "concurrency %d on a single connection, which serves one call at a time", c.Concurrency)
	}
	return c, c.Check()
}

// tables are the quoted, schema-qualified names of the four tables.
func tables(c config) sqlstore.Tables {
	return c.TablesOf(func(name string) string {
		if c.Schema != "" {
			return `"` + c.Schema + `"."` + name + `"`
		}
		return `"` + name + `"`
	})
}
