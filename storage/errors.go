package storage

import (
	"errors"
	"fmt"
)

// The error vocabulary. Compare with errors.Is; backends wrap their native
// error as well, for example
//
//	fmt.Errorf("mysql: create batch: %w: %w", storage.ErrAlreadyExists, nativeErr)
var (
	// ErrNotFound reports that the keyed row does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrAlreadyExists reports a create of an existing key; the existing row
	// is untouched.
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrConflict reports a lost conditional write: a compare-and-swap whose
	// stored row is not at the expected version (for UpdateBatch, or not in
	// the expected state), or an AddMember below the stored version. The
	// stored row is untouched.
	ErrConflict = errors.New("storage: version conflict")
	// ErrInvalid reports bad input. Nothing was written.
	ErrInvalid = errors.New("storage: invalid input")
	// ErrUnavailable reports that the store could not serve the call for
	// now — throttling, a timeout, a lost or refused connection, a server
	// error — after the driver's or SDK's own retries. Calling again later
	// may succeed. The native error stays reachable with errors.As. A write
	// that fails this way after it was sent may have landed: it matches
	// [ErrAmbiguous] too. One that surely was not sent (its connection was
	// refused) or was rolled back (the server answered with an error)
	// matches ErrUnavailable only. A timeout below the store (a dial, a
	// driver's or an HTTP client's timeout, the server's own lock or
	// statement timeout) is ErrUnavailable even when its error matches
	// context.DeadlineExceeded: only the caller's context ending is the
	// caller's own limit.
	ErrUnavailable = errors.New("storage: unavailable")
	// ErrAmbiguous reports a write whose outcome the store cannot tell: it
	// was sent and may have landed (or may still land), or a retry of it
	// met a stored row that may or may not be its own. A write whose
	// context ended while it was in flight matches ErrAmbiguous and the
	// context's error (it may have been sent); a backend that does I/O
	// does not send a write whose context had already ended, and returns
	// the context's error alone. An ambiguous write is never reported as
	// success or as a plain [ErrConflict] / [ErrAlreadyExists]: re-read and
	// decide. A retried write that the store can recognize as
	// its own (the stored row is exactly what it wrote) is a success.
	ErrAmbiguous = errors.New("storage: write outcome unknown")
	// ErrSchema reports tables a store cannot use: missing, created by an
	// earlier release and not (or only half) migrated, or by a later
	// release. Its message says what to run — the backend's Migrate, or
	// the DDL its Schema prints, then Check again. A backend's Check
	// returns it; nothing was written.
	ErrSchema = errors.New("storage: tables not migrated")
)

// FieldError is an input error naming the field at fault. It matches
// [ErrInvalid] with errors.Is.
type FieldError struct {
	// Field names the offending input, for example "batch.Queue" or "state".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string {
	return ErrInvalid.Error() + ": " + e.Field + ": " + e.Reason
}

// Unwrap makes a FieldError match [ErrInvalid].
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Invalid returns a [*FieldError] for field with a formatted reason. The pure
// packages use it so that every input error has the same shape.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
