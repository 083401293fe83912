package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/statefold/statefold/storage"
)

// ErrNotSent marks a statement that was not sent because its context had
// ended before it.
var ErrNotSent = errors.New("not sent")

// notSent is the error of a statement whose context has already ended.
func notSent(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	return nil
}

// CallErr wraps the error of a statement of a call under ctx: a transient
// failure matches storage.ErrUnavailable, and a write's also
// storage.ErrAmbiguous (the statement may have run) when it got no answer
// — not when the server answered with an error (the statement was rolled
// back) or it was never sent (no connection, or its context had ended
// before it).
//
// A statement naming a table or a column that does not exist (tables
// never migrated, or migrated by an earlier release) matches
// storage.ErrSchema, says to run Migrate, and keeps the server's error:
// the server answered, so nothing was written.
//
// Whether the call ended by the caller's own limit is told by ctx, never
// by the error's type (a dial timeout matches context.DeadlineExceeded
// too). When ctx has ended, a write that may have been sent may have
// landed: its error matches storage.ErrAmbiguous and the context's error
// (not ErrUnavailable: the caller's own limit); a read's, or an unsent
// write's, the context's error alone.
func CallErr(ctx context.Context, d Dialect, what string, write bool, err error) error {
	prefix := d.Name() + ": " + what
	if d.Missing(err) {
		return fmt.Errorf("%s: the tables lack what this release uses: run Migrate (or apply Schema's DDL): %w: %w",
			prefix, storage.ErrSchema, err)
	}
	unsent := errors.Is(err, ErrNotSent) || d.Unsent(err)
	if cerr := ctx.Err(); cerr != nil {
		if !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		if write && !unsent {
			return fmt.Errorf("%s: %w: %w", prefix, storage.ErrAmbiguous, err)
		}
		return fmt.Errorf("%s: %w", prefix, err)
	}
	switch {
	case !d.Transient(err):
		return fmt.Errorf("%s: %w", prefix, err)
	case write && !unsent && !d.Answered(err):
		return fmt.Errorf("%s: %w: %w: %w", prefix, storage.ErrAmbiguous, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w: %w", prefix, storage.ErrUnavailable, err)
}

// insertErr wraps the error of an INSERT: a duplicate key is
// storage.ErrAlreadyExists.
func (s *Store) insertErr(ctx context.Context, what string, err error) error {
	if s.d.Duplicate(err) {
		return fmt.Errorf("%s: %s: %w: %w", s.d.Name(), what, storage.ErrAlreadyExists, err)
	}
	return CallErr(ctx, s.d, what, true, err)
}
