package mysql

import (
	"regexp"

	"github.com/statefold/statefold/storage"
)

// DefaultTablePrefix is the table prefix used without [WithTablePrefix]. The
// tables are statefold_batches, statefold_members, statefold_applies and
// statefold_operations.
const DefaultTablePrefix = "statefold_"

// DefaultChunkSize is the number of ids [Store.GetBatches] puts in one
// IN (...) query without [WithChunkSize].
const DefaultChunkSize = 1000

// MaxChunkSize bounds [WithChunkSize]: well below the 65,535 placeholders a
// prepared statement may carry.
const MaxChunkSize = 10000

// prefixPattern is a conservative unquoted identifier: it needs no quoting on
// MySQL or MariaDB (we quote anyway) and leaves room for the longest table
// suffix within the 64-character identifier limit.
var prefixPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)

// Option configures [New], [Migrate] and [Schema]. Pass the same options to
// all of them.
type Option func(*config)

type config struct {
	prefix    string
	chunkSize int
}

// WithTablePrefix sets the prefix of the four table names (default
// [DefaultTablePrefix]). It must match ^[A-Za-z_][A-Za-z0-9_]{0,31}$;
// anything else makes New, Migrate and Schema return [storage.ErrInvalid].
func WithTablePrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithChunkSize sets how many ids [Store.GetBatches] sends in one
// IN (...) query (default [DefaultChunkSize]); it must lie in
// [1, MaxChunkSize], otherwise New returns [storage.ErrInvalid].
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
	if c.chunkSize < 1 || c.chunkSize > MaxChunkSize {
		return config{}, storage.Invalid("WithChunkSize", "chunk size %d outside [1, %d]", c.chunkSize, MaxChunkSize)
	}
	return c, nil
}

func (c config) table(name string) string { return "`" + c.prefix + name + "`" }
