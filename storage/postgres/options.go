package postgres

import (
	"regexp"

	"github.com/statefold/statefold/storage"
)

// DefaultTablePrefix is the table prefix used without [WithTablePrefix]. The
// tables are statefold_batches, statefold_members, statefold_applies and
// statefold_operations.
const DefaultTablePrefix = "statefold_"

// DefaultChunkSize is the number of ids [Store.GetBatches] puts in one
// query without [WithChunkSize].
const DefaultChunkSize = 1000

// MaxChunkSize bounds [WithChunkSize].
const MaxChunkSize = 10000

// identPattern is a conservative unquoted identifier (we quote anyway); a
// prefix leaves room for the longest table suffix within PostgreSQL's
// 63-byte identifier limit.
var (
	prefixPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)
	schemaPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
)

// Option configures [New], [Migrate] and [Schema]. Pass the same options to
// all of them.
type Option func(*config)

type config struct {
	prefix    string
	schema    string
	chunkSize int
}

// WithTablePrefix sets the prefix of the four table names (default
// [DefaultTablePrefix]). It must match ^[A-Za-z_][A-Za-z0-9_]{0,31}$;
// anything else makes New, Migrate and Schema return an error matching
// storage.ErrInvalid.
func WithTablePrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithSchema puts the tables in the named PostgreSQL schema (default: none,
// so the connection's search_path decides, usually public). It must match
// ^[A-Za-z_][A-Za-z0-9_]{0,62}$ and exist ([Migrate] does not create it).
func WithSchema(schema string) Option {
	return func(c *config) { c.schema = schema }
}

// WithChunkSize sets how many ids [Store.GetBatches] sends in one query
// (default [DefaultChunkSize]); it must lie in [1, MaxChunkSize].
func WithChunkSize(n int) Option {
	return func(c *config) { c.chunkSize = n }
}

func newConfig(opts []Option) (config, error) {
	c := config{prefix: DefaultTablePrefix, chunkSize: DefaultChunkSize}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if !prefixPattern.MatchString(c.prefix) {
		return config{}, storage.Invalid("WithTablePrefix", "table prefix %q does not match %s", c.prefix, prefixPattern)
	}
	if c.schema != "" && !schemaPattern.MatchString(c.schema) {
		return config{}, storage.Invalid("WithSchema", "schema %q does not match %s", c.schema, schemaPattern)
	}
	if c.chunkSize < 1 || c.chunkSize > MaxChunkSize {
		return config{}, storage.Invalid("WithChunkSize", "chunk size %d outside [1, %d]", c.chunkSize, MaxChunkSize)
	}
	return c, nil
}

// table returns the quoted, schema-qualified name of one table.
func (c config) table(name string) string {
	t := `"` + c.prefix + name + `"`
	if c.schema != "" {
		return `"` + c.schema + `".` + t
	}
	return t
}
