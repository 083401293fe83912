package dynamo

import (
	"regexp"
	"time"

	"github.com/statefold/statefold/internal/option"
	"github.com/statefold/statefold/storage"
)

// DefaultTablePrefix is the prefix of the four table names without
// [WithTablePrefix]: statefold_batches, statefold_members,
// statefold_applies and statefold_operations.
const DefaultTablePrefix = "statefold_"

// MaxBatchGetKeys is the most keys one BatchGetItem call may carry; it is
// DynamoDB's own limit and the chunk size of [Store.GetBatches].
const MaxBatchGetKeys = 100

// TableNames are the four table names. Empty fields take the prefixed
// default.
type TableNames struct {
	// Batches, Members, Applies and Operations hold the rows of the
	// storage types of the same names.
	Batches, Members, Applies, Operations string
}

// Option configures [New] and [CreateTables]. Pass the same options to both.
// A nil Option is an error matching storage.ErrInvalid.
type Option func(*config)

type config struct {
	prefix      string
	names       TableNames
	backoffBase time.Duration
	backoffMax  time.Duration
	maxAttempts int

	batchGetConcurrency int
}

// WithTablePrefix sets the prefix of the default table names (default
// [DefaultTablePrefix]). It may hold letters, digits, '_', '-' and '.', at
// most 200 characters.
func WithTablePrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithTableNames names the tables explicitly; empty fields keep the
// prefixed default.
func WithTableNames(n TableNames) Option { return func(c *config) { c.names = n } }

// WithUnprocessedKeysBackoff sets the capped exponential backoff between
// retries of a BatchGetItem's UnprocessedKeys that returned nothing
// (default 25ms doubling up to 2s, with jitter) and how many such rounds in
// a row GetBatches makes before it gives up with [ErrUnprocessed] (default
// 10). A round that returns rows is progress: it is retried at once and
// resets the count, so large rows that come back a few per round never
// exhaust the budget.
func WithUnprocessedKeysBackoff(base, max time.Duration, attempts int) Option {
	return func(c *config) { c.backoffBase, c.backoffMax, c.maxAttempts = base, max, attempts }
}

// DefaultChunkConcurrency is how many BatchGetItem chunks
// [Store.GetBatches] reads at a time without [WithChunkConcurrency].
const DefaultChunkConcurrency = 4

// DefaultBatchGetConcurrency is [DefaultChunkConcurrency].
//
// Deprecated: use DefaultChunkConcurrency, the name every backend shares.
const DefaultBatchGetConcurrency = DefaultChunkConcurrency

// WithChunkConcurrency sets how many BatchGetItem chunks of one
// [Store.GetBatches] call run at a time (default
// [DefaultChunkConcurrency]; 1 reads them one after another). It must be
// at least 1. The SQL backends have the same option.
func WithChunkConcurrency(n int) Option { return func(c *config) { c.batchGetConcurrency = n } }

// WithBatchGetConcurrency is [WithChunkConcurrency].
//
// Deprecated: use WithChunkConcurrency, the name every backend shares.
func WithBatchGetConcurrency(n int) Option { return WithChunkConcurrency(n) }

var (
	prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{0,200}$`)
	tablePattern  = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)
)

func newConfig(opts []Option) (config, error) {
	c := config{prefix: DefaultTablePrefix, backoffBase: 25 * time.Millisecond, backoffMax: 2 * time.Second, maxAttempts: 10,
		batchGetConcurrency: DefaultChunkConcurrency}
	if err := option.Apply(&c, opts); err != nil {
		return config{}, err
	}
	if !prefixPattern.MatchString(c.prefix) {
		return config{}, storage.Invalid("WithTablePrefix", "table prefix %q does not match %s", c.prefix, prefixPattern)
	}
	def := func(name *string, suffix string) error {
		if *name == "" {
			*name = c.prefix + suffix
		}
		if !tablePattern.MatchString(*name) {
			return storage.Invalid("WithTableNames", "table name %q does not match %s", *name, tablePattern)
		}
		return nil
	}
	for _, f := range []struct {
		p *string
		s string
	}{{&c.names.Batches, "batches"}, {&c.names.Members, "members"}, {&c.names.Applies, "applies"}, {&c.names.Operations, "operations"}} {
		if err := def(f.p, f.s); err != nil {
			return config{}, err
		}
	}
	if c.backoffBase <= 0 || c.backoffMax < c.backoffBase || c.maxAttempts < 1 {
		return config{}, storage.Invalid("WithUnprocessedKeysBackoff", "need 0 < base <= max and attempts >= 1")
	}
	if c.batchGetConcurrency < 1 {
		return config{}, storage.Invalid("WithChunkConcurrency", "concurrency %d is below 1", c.batchGetConcurrency)
	}
	return c, nil
}
