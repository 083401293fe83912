// Package option applies functional options for the constructors of
// statefold's packages, which all follow one convention: a nil option, and
// an option given a value it cannot use, is an error matching
// storage.ErrInvalid that names it; no value is silently replaced.
package option

import (
	"log/slog"
	"time"

	"github.com/statefold/statefold/storage"
)

// Apply applies opts to cfg in order. A nil option is an error matching
// storage.ErrInvalid naming "opts" and its index; the options after it
// are not applied.
func Apply[C any, O ~func(*C)](cfg *C, opts []O) error {
	for i, o := range opts {
		if o == nil {
			return storage.Invalid("opts", "option %d is nil", i)
		}
		o(cfg)
	}
	return nil
}

// Configure applies opts to def, the constructor's defaults, as [Apply]
// does, then checks the result with check: the configuration to use, or
// the first error of either.
func Configure[C any, O ~func(*C)](def C, opts []O, check func(C) error) (C, error) {
	if err := Apply(&def, opts); err != nil {
		var zero C
		return zero, err
	}
	if err := check(def); err != nil {
		var zero C
		return zero, err
	}
	return def, nil
}

// ClockAndLogger checks the two options every constructor takes: a nil
// clock is an error naming WithClock, a nil logger one naming WithLogger
// (both matching storage.ErrInvalid).
func ClockAndLogger(clock func() time.Time, logger *slog.Logger) error {
	switch {
	case clock == nil:
		return storage.Invalid("WithClock", "nil clock")
	case logger == nil:
		return storage.Invalid("WithLogger", "nil logger")
	}
	return nil
}
