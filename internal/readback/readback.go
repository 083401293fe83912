// Package readback decides, for the SQL backends, a compare-and-swap whose
// conditional UPDATE changed nothing, from the row's version (and state)
// read by its primary key right after: a conflict, or — when the row read
// back is the one expected (it was created or moved back between the two
// statements) — a reason to run the UPDATE again.
package readback

import (
	"fmt"

	"github.com/statefold/statefold/storage"
)

// MaxAttempts is how many times a compare-and-swap runs its UPDATE while
// the read-back keeps finding the expected row.
const MaxAttempts = 3

// Verdict returns the error of attempt number attempt (from 1) of a
// compare-and-swap named what whose UPDATE changed nothing, the row read
// back holding version stored and state; expectedState is nil when the
// condition has no state. Nil means: run the UPDATE again.
func Verdict(what string, stored, expected int64, state string, expectedState *string, attempt int) error {
	switch {
	case stored != expected:
		return fmt.Errorf("%s: stored version %d, expected %d: %w", what, stored, expected, storage.ErrConflict)
	case expectedState != nil && state != *expectedState:
		return fmt.Errorf("%s: stored state %q, expected %q: %w", what, state, *expectedState, storage.ErrConflict)
	case attempt >= MaxAttempts:
		return fmt.Errorf("%s: stored version %d, expected %d after %d attempts: %w", what, stored, expected, attempt, storage.ErrConflict)
	}
	return nil
}
