package storage

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Input limits enforced by every layer.
const (
	// MaxKeyBytes is the largest key (queue, batch id, state, apply id,
	// operation id) in bytes.
	MaxKeyBytes = 255
	// MaxPayloadBytes is the largest payload in bytes (256 KiB).
	MaxPayloadBytes = 256 << 10
	// MaxMessageBytes is the largest error message in bytes (16 KiB). The
	// projector truncates longer messages; stores reject them.
	MaxMessageBytes = 16 << 10
)

// MinTime and MaxTime bound the non-zero times a store accepts: the range of
// MySQL's DATETIME(6), which every backend can represent.
var (
	// MinTime is the earliest non-zero time a store accepts.
	MinTime = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	// MaxTime is the latest time a store accepts.
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// NormalizeTime returns t in UTC truncated to the microsecond, without a
// monotonic reading. The zero time stays the zero time.
func NormalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// ClonePayload returns a copy of p, or nil when p is empty.
func ClonePayload(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	out := make([]byte, len(p))
	copy(out, p)
	return out
}

// ValidateKey checks a required key: non-empty, valid UTF-8, at most
// MaxKeyBytes bytes. field names it in the error.
func ValidateKey(field, key string) error {
	switch {
	case key == "":
		return Invalid(field, "empty key")
	case len(key) > MaxKeyBytes:
		return Invalid(field, "key of %d bytes exceeds %d", len(key), MaxKeyBytes)
	case !utf8.ValidString(key):
		return Invalid(field, "key is not valid UTF-8")
	}
	return nil
}

// ValidateLabel checks an optional short string (a deployment name, a group, a
// failure policy): valid UTF-8 and at most MaxKeyBytes bytes; empty is fine.
func ValidateLabel(field, s string) error {
	if s == "" {
		return nil
	}
	return ValidateKey(field, s)
}

// ValidatePayload checks a payload: at most MaxPayloadBytes bytes.
func ValidatePayload(field string, p []byte) error {
	if len(p) > MaxPayloadBytes {
		return Invalid(field, "payload of %d bytes exceeds %d", len(p), MaxPayloadBytes)
	}
	return nil
}

// ValidateMessage checks an error message: valid UTF-8, at most
// MaxMessageBytes bytes.
func ValidateMessage(field, msg string) error {
	if len(msg) > MaxMessageBytes {
		return Invalid(field, "message of %d bytes exceeds %d", len(msg), MaxMessageBytes)
	}
	if !utf8.ValidString(msg) {
		return Invalid(field, "message is not valid UTF-8")
	}
	return nil
}

// ValidateTime checks that t is zero or within [MinTime, MaxTime].
func ValidateTime(field string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if t.Before(MinTime) || t.After(MaxTime) {
		return Invalid(field, "time %s outside [%s, %s]", t.UTC().Format(time.RFC3339Nano),
			MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339))
	}
	return nil
}

// ValidateVersion checks a version a caller expects or writes: at least 1.
func ValidateVersion(field string, v int64) error {
	if v < 1 {
		return Invalid(field, "version %d is not positive", v)
	}
	return nil
}

// ValidateMaxVersion checks a version that may be 0 (RemoveMember's
// maxVersion, an operation's ProjectedVersion): not negative.
func ValidateMaxVersion(field string, v int64) error {
	if v < 0 {
		return Invalid(field, "version %d is negative", v)
	}
	return nil
}

// validateToken checks a fencing token (an operation's OwnerToken): not
// negative; 0 means never acquired.
func validateToken(field string, v int64) error {
	if v < 0 {
		return Invalid(field, "token %d is negative", v)
	}
	return nil
}

// ValidateBatch checks every field of b that a store writes.
func ValidateBatch(b Batch) error {
	return first(
		each(ValidateKey, "batch", "Queue ID State", b.Queue, b.ID, b.State),
		ValidatePayload("batch.Payload", b.Payload),
		each(ValidateTime, "batch", "CreatedAt UpdatedAt", b.CreatedAt, b.UpdatedAt),
	)
}

// ValidateMember checks every field of m.
func ValidateMember(m Member) error {
	return first(
		each(ValidateKey, "member", "Queue State BatchID", m.Queue, m.State, m.BatchID),
		ValidateVersion("member.Version", m.Version),
		ValidateTime("member.AddedAt", m.AddedAt),
	)
}

// ValidateApply checks every field of a that a store writes.
func ValidateApply(a Apply) error {
	return first(
		each(ValidateKey, "apply", "ID State", a.ID, a.State),
		ValidateMessage("apply.ErrorMessage", a.ErrorMessage),
		each(ValidateTime, "apply", "StartedAt CompletedAt", a.StartedAt, a.CompletedAt),
		ValidatePayload("apply.Payload", a.Payload),
		each(ValidateTime, "apply", "CreatedAt UpdatedAt", a.CreatedAt, a.UpdatedAt),
	)
}

// ValidateOperation checks every field of op that a store writes.
func ValidateOperation(op Operation) error {
	return first(
		each(ValidateKey, "operation", "ApplyID ID", op.ApplyID, op.ID),
		each(ValidateLabel, "operation", "Deployment Group", op.Deployment, op.Group),
		ValidateKey("operation.State", op.State),
		ValidateLabel("operation.OnFailure", op.OnFailure),
		ValidateMessage("operation.ErrorMessage", op.ErrorMessage),
		each(ValidateTime, "operation", "StartedAt CompletedAt", op.StartedAt, op.CompletedAt),
		ValidatePayload("operation.Payload", op.Payload),
		each(ValidateTime, "operation", "CreatedAt UpdatedAt", op.CreatedAt, op.UpdatedAt),
		ValidateLabel("operation.Owner", op.Owner),
		validateToken("operation.OwnerToken", op.OwnerToken),
		ValidateMaxVersion("operation.ProjectedVersion", op.ProjectedVersion),
		each(ValidateTime, "operation", "OwnerUntil ReleasedAt", op.OwnerUntil, op.ReleasedAt),
	)
}

// each checks the fields of one record that take the same rule, in order:
// names holds their names, space-separated, one for each of vs; the error
// names a field record.name. It returns the first error.
func each[T any](rule func(field string, v T) error, record, names string, vs ...T) error {
	for i, name := range strings.Fields(names) {
		if err := rule(record+"."+name, vs[i]); err != nil {
			return err
		}
	}
	return nil
}

// ValidateKeys checks keys given as (field, key) pairs with [ValidateKey],
// in order, and returns the first error.
func ValidateKeys(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := ValidateKey(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// ValidateIDs checks every id of a GetBatches call.
func ValidateIDs(field string, ids []string) error {
	for i, id := range ids {
		if err := ValidateKey(field, id); err != nil {
			if fe, ok := err.(*FieldError); ok {
				fe.Field = field + "[" + strconv.Itoa(i) + "]"
			}
			return err
		}
	}
	return nil
}

// NormalizeBatch returns b as a store keeps it: times normalized, the payload
// copied (nil when empty).
func NormalizeBatch(b Batch) Batch {
	b.Payload = ClonePayload(b.Payload)
	normalizeTimes(&b.CreatedAt, &b.UpdatedAt)
	return b
}

// NormalizeMember returns m as a store keeps it.
func NormalizeMember(m Member) Member {
	m.AddedAt = NormalizeTime(m.AddedAt)
	return m
}

// NormalizeApply returns a as a store keeps it.
func NormalizeApply(a Apply) Apply {
	a.Payload = ClonePayload(a.Payload)
	normalizeTimes(&a.StartedAt, &a.CompletedAt, &a.CreatedAt, &a.UpdatedAt)
	return a
}

// NormalizeOperation returns op as a store keeps it.
func NormalizeOperation(op Operation) Operation {
	op.Payload = ClonePayload(op.Payload)
	normalizeTimes(&op.StartedAt, &op.CompletedAt, &op.CreatedAt, &op.UpdatedAt, &op.OwnerUntil, &op.ReleasedAt)
	return op
}

// normalizeTimes normalizes each of ts in place with [NormalizeTime].
func normalizeTimes(ts ...*time.Time) {
	for _, t := range ts {
		*t = NormalizeTime(*t)
	}
}

func first(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
