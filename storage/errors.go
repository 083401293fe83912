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
