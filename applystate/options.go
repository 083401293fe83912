package applystate

import (
	"context"
	"log/slog"
	"time"

	"github.com/statefold/statefold/internal/hook"
	"github.com/statefold/statefold/internal/option"
	"github.com/statefold/statefold/storage"
)

// DefaultMaxAttempts is how many read → project → compare-and-swap rounds
// a call makes before it gives up with an error matching
// storage.ErrConflict.
const DefaultMaxAttempts = 8

// Option configures a [Projector]. [NewProjector] reports a nil Option,
// and every option given a value it cannot use, as an error matching
// storage.ErrInvalid that names the option; no value is silently replaced.
type Option func(*config)

type config struct {
	clock       func() time.Time
	logger      *slog.Logger
	maxAttempts int
	observer    func(context.Context, Result)
	hooks       hook.Set
	// discovery is the open-applies index (WithDiscovery), nil for none;
	// discoveryGrace its grace (WithDiscoveryGrace).
	discovery       *discovery
	discoveryGrace  time.Duration
	listConcurrency int
}

// defaults is the configuration of a Projector built without options.
func defaults() config {
	return config{clock: time.Now, logger: slog.Default(), maxAttempts: DefaultMaxAttempts, discoveryGrace: DefaultDiscoveryGrace, listConcurrency: DefaultListConcurrency}
}

// WithClock sets the clock timestamps are taken from (default time.Now);
// they are stored in UTC, truncated to the microsecond. NewProjector
// rejects a nil clock.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithLogger sets where refusals and retries are logged (default
// slog.Default()). NewProjector rejects a nil logger.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxAttempts sets the number of compare-and-swap rounds per call
// (default [DefaultMaxAttempts]). NewProjector rejects n < 1.
func WithMaxAttempts(n int) Option { return func(c *config) { c.maxAttempts = n } }

// WithObserver registers a function called after every write of the
// apply's projected state (not after the flag writes of Stop and
// ReleasePause), by the caller that wrote it and only by that caller — the
// place for terminal side effects: a Result with Terminalized is observed
// exactly once per apply, unless the call that wrote it returned an error
// matching [ErrAmbiguous]. A nil f registers none (the default).
func WithObserver(f func(context.Context, Result)) Option {
	return func(c *config) { c.observer = f }
}

// configure applies opts to the defaults and checks the result.
func configure(opts []Option) (config, error) {
	return option.Configure(defaults(), opts, config.check)
}

// check reports the first option value c cannot use, naming the option.
func (c config) check() error {
	if err := option.ClockAndLogger(c.clock, c.logger); err != nil {
		return err
	}
	if c.maxAttempts < 1 {
		return storage.Invalid("WithMaxAttempts", "%d: at least one attempt", c.maxAttempts)
	}
	if c.listConcurrency < 1 {
		return storage.Invalid("WithListConcurrency", "%d: at least 1", c.listConcurrency)
	}
	if c.discoveryGrace <= 0 {
		return storage.Invalid("WithDiscoveryGrace", "%v: a positive grace", c.discoveryGrace)
	}
	if c.discovery != nil {
		c.discovery.grace = c.discoveryGrace
		return c.discovery.check()
	}
	return nil
}
