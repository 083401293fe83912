package sqlstore

import (
	"regexp"

	"github.com/statefold/statefold/storage"
)

// Config is what the options of a SQL backend set.
type Config struct {
	// Prefix starts every table name.
	Prefix string
	// Schema qualifies the tables (PostgreSQL; empty: the search path).
	Schema string
	// ChunkSize is how many ids one GetBatches query reads.
	ChunkSize int
	// Concurrency is how many GetBatches chunks are read at once.
	Concurrency int
}

// The bounds the options are checked against.
const (
	// MaxChunkSize bounds ChunkSize: well below the 65,535 placeholders a
	// prepared statement may carry.
	MaxChunkSize = 10000
	// DefaultChunkSize is ChunkSize's default.
	DefaultChunkSize = 1000
	// DefaultConcurrency is Concurrency's default.
	DefaultConcurrency = 4
)

// PrefixPattern is a conservative unquoted identifier (the stores quote
// anyway) that leaves room for the longest table suffix within MySQL's
// 64-character and PostgreSQL's 63-byte identifier limits; SchemaPattern
// is a PostgreSQL schema name.
var (
	PrefixPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)
	SchemaPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
)

// Check reports the first option out of bounds as a storage.ErrInvalid
// naming the option.
func (c Config) Check() error {
	switch {
	case !PrefixPattern.MatchString(c.Prefix):
		return storage.Invalid("WithTablePrefix", "table prefix %q does not match %s", c.Prefix, PrefixPattern)
	case c.Schema != "" && !SchemaPattern.MatchString(c.Schema):
		return storage.Invalid("WithSchema", "schema %q does not match %s", c.Schema, SchemaPattern)
	case c.ChunkSize < 1 || c.ChunkSize > MaxChunkSize:
		return storage.Invalid("WithChunkSize", "chunk size %d outside [1, %d]", c.ChunkSize, MaxChunkSize)
	case c.Concurrency < 1:
		return storage.Invalid("WithChunkConcurrency", "concurrency %d is below 1", c.Concurrency)
	}
	return nil
}

// Names are the four tables' names without prefix, in the order of
// [Tables].
var Names = [4]string{"batches", "members", "applies", "operations"}

// TablesOf applies quote (which quotes and qualifies a table's full
// name) to the prefixed names.
func (c Config) TablesOf(quote func(string) string) Tables {
	return Tables{
		Batches:    quote(c.Prefix + Names[0]),
		Members:    quote(c.Prefix + Names[1]),
		Applies:    quote(c.Prefix + Names[2]),
		Operations: quote(c.Prefix + Names[3]),
		Schema:     quote(c.Prefix + SchemaTable),
	}
}
