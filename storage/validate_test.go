package storage_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

func TestValidateKey(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"q", "Q", "a ", "x#y/z:%", "\x00", "é", strings.Repeat("k", storage.MaxKeyBytes)} {
		require.NoError(t, storage.ValidateKey("f", ok), "%q", ok)
	}
	for name, bad := range map[string]string{
		"empty":     "",
		"oversized": strings.Repeat("k", storage.MaxKeyBytes+1),
		"not UTF-8": "a\xffb",
	} {
		err := storage.ValidateKey("batch.Queue", bad)
		require.ErrorIs(t, err, storage.ErrInvalid, name)
		require.ErrorContains(t, err, "batch.Queue", name)
		var fe *storage.FieldError
		require.True(t, errors.As(err, &fe))
		require.Equal(t, "batch.Queue", fe.Field)
	}
	require.NoError(t, storage.ValidateLabel("op.Group", ""))
	require.ErrorIs(t, storage.ValidateLabel("op.Group", "\xff"), storage.ErrInvalid)
}

func TestValidateLimits(t *testing.T) {
	t.Parallel()
	require.NoError(t, storage.ValidatePayload("p", nil))
	require.NoError(t, storage.ValidatePayload("p", make([]byte, storage.MaxPayloadBytes)))
	require.ErrorIs(t, storage.ValidatePayload("p", make([]byte, storage.MaxPayloadBytes+1)), storage.ErrInvalid)
	require.NoError(t, storage.ValidateMessage("m", strings.Repeat("m", storage.MaxMessageBytes)))
	require.ErrorIs(t, storage.ValidateMessage("m", strings.Repeat("m", storage.MaxMessageBytes+1)), storage.ErrInvalid)
	require.ErrorIs(t, storage.ValidateMessage("m", "\xff"), storage.ErrInvalid)
	require.NoError(t, storage.ValidateTime("t", time.Time{}))
	require.NoError(t, storage.ValidateTime("t", storage.MinTime))
	require.NoError(t, storage.ValidateTime("t", storage.MaxTime))
	require.ErrorIs(t, storage.ValidateTime("t", storage.MinTime.Add(-time.Microsecond)), storage.ErrInvalid)
	require.ErrorIs(t, storage.ValidateTime("t", storage.MaxTime.Add(time.Microsecond)), storage.ErrInvalid)
	require.ErrorIs(t, storage.ValidateVersion("v", 0), storage.ErrInvalid)
	require.NoError(t, storage.ValidateVersion("v", 1))
	require.NoError(t, storage.ValidateMaxVersion("v", 0))
	require.ErrorIs(t, storage.ValidateMaxVersion("v", -1), storage.ErrInvalid)
	err := storage.ValidateIDs("ids", []string{"a", "b", ""})
	require.ErrorIs(t, err, storage.ErrInvalid)
	require.ErrorContains(t, err, "ids[2]")
	require.NoError(t, storage.ValidateIDs("ids", nil))
}

func TestValidateEntities(t *testing.T) {
	t.Parallel()
	b := storage.Batch{Queue: "q", ID: "b", State: "s"}
	require.NoError(t, storage.ValidateBatch(b))
	for field, mutate := range map[string]func(*storage.Batch){
		"batch.Queue":   func(b *storage.Batch) { b.Queue = "" },
		"batch.ID":      func(b *storage.Batch) { b.ID = "\xff" },
		"batch.State":   func(b *storage.Batch) { b.State = strings.Repeat("s", 256) },
		"batch.Payload": func(b *storage.Batch) { b.Payload = make([]byte, storage.MaxPayloadBytes+1) },
	} {
		bad := b
		mutate(&bad)
		err := storage.ValidateBatch(bad)
		require.ErrorIs(t, err, storage.ErrInvalid, field)
		require.ErrorContains(t, err, field)
	}
	require.ErrorContains(t, storage.ValidateMember(storage.Member{Queue: "q", State: "s", BatchID: "b"}), "member.Version")
	require.ErrorContains(t, storage.ValidateApply(storage.Apply{ID: "a"}), "apply.State")
	require.ErrorContains(t, storage.ValidateApply(storage.Apply{ID: "a", State: "s", ErrorMessage: "\xff"}), "apply.ErrorMessage")
	require.ErrorContains(t, storage.ValidateOperation(storage.Operation{ApplyID: "a", ID: "o", State: "s", Group: "\xff"}), "operation.Group")
	require.NoError(t, storage.ValidateOperation(storage.Operation{ApplyID: "a", ID: "o", State: "s"}))
}

// The ownership and release fields of an operation are validated like the
// other labels and times, each error naming its field.
func TestValidateOperationOwnership(t *testing.T) {
	t.Parallel()
	ok := storage.Operation{ApplyID: "a", ID: "o", State: "s", Owner: strings.Repeat("o", storage.MaxKeyBytes),
		OwnerToken: 1<<63 - 1, OwnerUntil: storage.MaxTime, ReleasedAt: storage.MinTime}
	require.NoError(t, storage.ValidateOperation(ok))
	for field, mutate := range map[string]func(*storage.Operation){
		"operation.Owner":      func(op *storage.Operation) { op.Owner = "loop\xff" },
		"operation.OwnerToken": func(op *storage.Operation) { op.OwnerToken = -1 },
		"operation.OwnerUntil": func(op *storage.Operation) { op.OwnerUntil = storage.MaxTime.Add(time.Microsecond) },
		"operation.ReleasedAt": func(op *storage.Operation) { op.ReleasedAt = storage.MinTime.Add(-time.Microsecond) },
	} {
		bad := ok
		mutate(&bad)
		err := storage.ValidateOperation(bad)
		require.ErrorIs(t, err, storage.ErrInvalid, field)
		var fe *storage.FieldError
		require.ErrorAs(t, err, &fe, field)
		require.Equal(t, field, fe.Field)
	}
	bad := ok
	bad.Owner = strings.Repeat("o", storage.MaxKeyBytes+1)
	require.ErrorContains(t, storage.ValidateOperation(bad), "operation.Owner")
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("X", 3600)
	in := time.Date(2030, 1, 2, 3, 4, 5, 678901234, zone)
	got := storage.NormalizeTime(in)
	require.Equal(t, time.UTC, got.Location())
	require.True(t, got.Equal(in.Truncate(time.Microsecond)))
	require.Equal(t, 678901000, got.Nanosecond())
	require.True(t, storage.NormalizeTime(time.Time{}).IsZero())

	p := []byte("abc")
	b := storage.NormalizeBatch(storage.Batch{Payload: p, CreatedAt: in})
	p[0] = 'X'
	require.Equal(t, []byte("abc"), b.Payload, "payloads are copied")
	require.Nil(t, storage.NormalizeBatch(storage.Batch{Payload: []byte{}}).Payload, "empty payload is nil")
	require.Nil(t, storage.ClonePayload(nil))
	require.Equal(t, got, storage.NormalizeApply(storage.Apply{StartedAt: in}).StartedAt)
	require.Equal(t, got, storage.NormalizeOperation(storage.Operation{CompletedAt: in}).CompletedAt)
	require.Equal(t, got, storage.NormalizeOperation(storage.Operation{OwnerUntil: in}).OwnerUntil)
	require.Equal(t, got, storage.NormalizeOperation(storage.Operation{ReleasedAt: in}).ReleasedAt)
	require.Equal(t, got, storage.NormalizeMember(storage.Member{AddedAt: in}).AddedAt)
}

func TestErrorVocabulary(t *testing.T) {
	t.Parallel()
	err := storage.Invalid("queue", "bad %d", 7)
	require.ErrorIs(t, err, storage.ErrInvalid)
	require.EqualError(t, err, "storage: invalid input: queue: bad 7")
	sentinels := []error{storage.ErrNotFound, storage.ErrAlreadyExists, storage.ErrConflict, storage.ErrInvalid}
	for i, a := range sentinels {
		for j, b := range sentinels {
			require.Equal(t, i == j, errors.Is(a, b))
		}
	}
}

// Every helper rejects bad input with a *FieldError that matches ErrInvalid,
// names the field it was given, and matches no other sentinel.
func TestValidateHelpersNameTheField(t *testing.T) {
	t.Parallel()
	for name, err := range map[string]error{
		"ValidateKey":        storage.ValidateKey("f.key", ""),
		"ValidateLabel":      storage.ValidateLabel("f.label", strings.Repeat("l", storage.MaxKeyBytes+1)),
		"ValidatePayload":    storage.ValidatePayload("f.payload", make([]byte, storage.MaxPayloadBytes+1)),
		"ValidateMessage":    storage.ValidateMessage("f.message", "\xff"),
		"ValidateTime":       storage.ValidateTime("f.time", time.Date(999, 1, 1, 0, 0, 0, 0, time.UTC)),
		"ValidateVersion":    storage.ValidateVersion("f.version", -3),
		"ValidateMaxVersion": storage.ValidateMaxVersion("f.maxVersion", -1),
		"ValidateIDs":        storage.ValidateIDs("f.ids", []string{"ok", "\xff"}),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.ErrorIs(t, err, storage.ErrInvalid)
			for _, other := range []error{storage.ErrNotFound, storage.ErrAlreadyExists, storage.ErrConflict} {
				require.NotErrorIs(t, err, other)
			}
			var fe *storage.FieldError
			require.ErrorAs(t, err, &fe)
			require.True(t, strings.HasPrefix(fe.Field, "f."), fe.Field)
			require.ErrorContains(t, err, fe.Field)
			require.NotEmpty(t, fe.Reason)
		})
	}
	var fe *storage.FieldError
	require.ErrorAs(t, storage.ValidateIDs("f.ids", []string{"ok", ""}), &fe)
	require.Equal(t, "f.ids[1]", fe.Field, "the bad id's index is named")
}

// Valid values at every limit pass each helper.
func TestValidateHelpersAcceptLimits(t *testing.T) {
	t.Parallel()
	for name, err := range map[string]error{
		"key at limit":         storage.ValidateKey("k", strings.Repeat("é", storage.MaxKeyBytes/2)+"x"),
		"label empty":          storage.ValidateLabel("l", ""),
		"label at limit":       storage.ValidateLabel("l", strings.Repeat("l", storage.MaxKeyBytes)),
		"payload empty":        storage.ValidatePayload("p", []byte{}),
		"payload at limit":     storage.ValidatePayload("p", make([]byte, storage.MaxPayloadBytes)),
		"message empty":        storage.ValidateMessage("m", ""),
		"time non-UTC":         storage.ValidateTime("t", time.Date(2030, 1, 1, 0, 0, 0, 0, time.FixedZone("X", -7200))),
		"max version zero":     storage.ValidateMaxVersion("v", 0),
		"ids with duplicates":  storage.ValidateIDs("ids", []string{"a", "a"}),
		"member":               storage.ValidateMember(storage.Member{Queue: "q", State: "s", BatchID: "b", Version: 1}),
		"apply":                storage.ValidateApply(storage.Apply{ID: "a", State: "s", ErrorMessage: strings.Repeat("m", storage.MaxMessageBytes)}),
		"batch with zero time": storage.ValidateBatch(storage.Batch{Queue: "q", ID: "b", State: "s"}),
	} {
		require.NoError(t, err, name)
	}
}
