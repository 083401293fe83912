package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/explore"
)

// badKeys are keys every store must reject with ErrInvalid.
var badKeys = map[string]string{
	"empty":     "",
	"oversized": strings.Repeat("k", storage.MaxKeyBytes+1),
	"not UTF-8": "bad\xff\xfe",
}

func runValidation(t *testing.T, newStore func(t *testing.T) storage.Store) {
	for kind, bad := range badKeys {
		t.Run("Key/"+kind, func(t *testing.T) {
			t.Parallel()
			validationKey(t, context.Background(), newStore(t), bad)
		})
	}
	explore.Parallel(t, newStore, map[string]func(t *testing.T, ctx context.Context, s storage.Store){
		"KeyAtLimit": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			id := strings.Repeat("é", storage.MaxKeyBytes/2) + "x" // 255 bytes
			require.Len(t, id, storage.MaxKeyBytes)
			_, err := s.CreateBatch(ctx, newBatch(q, id))
			require.NoError(t, err, "a key of exactly MaxKeyBytes is valid")
			_, err = s.GetBatch(ctx, q, id)
			require.NoError(t, err)
		},
		"Payload": func(t *testing.T, ctx context.Context, s storage.Store) {
			q, a := UniqueID("q"), UniqueID("apply")
			big := make([]byte, storage.MaxPayloadBytes+1)
			b := newBatch(q, "b")
			b.Payload = big
			_, err := s.CreateBatch(ctx, b)
			requireInvalid(t, err, "Payload")
			_, err = s.GetBatch(ctx, q, "b")
			require.ErrorIs(t, err, storage.ErrNotFound, "nothing written")

			ok, err := s.CreateBatch(ctx, newBatch(q, "b"))
			require.NoError(t, err)
			ok.Payload = big
			_, err = s.UpdateBatch(ctx, ok, ok.Version, ok.State)
			requireInvalid(t, err, "Payload")
			requireBatchUnchanged(t, ctx, s, q, "b", 1)

			requireApplyAndOperationRejected(t, ctx, s, a, "Payload",
				func(ap *storage.Apply) { ap.Payload = big }, func(op *storage.Operation) { op.Payload = big })
		},
		"Message": func(t *testing.T, ctx context.Context, s storage.Store) {
			for _, bad := range []string{strings.Repeat("m", storage.MaxMessageBytes+1), "bad\xff"} {
				requireApplyAndOperationRejected(t, ctx, s, UniqueID("apply"), "ErrorMessage",
					func(ap *storage.Apply) { ap.ErrorMessage = bad }, func(op *storage.Operation) { op.ErrorMessage = bad })
			}
		},
		"TimeRange": func(t *testing.T, ctx context.Context, s storage.Store) {
			validationTimeRange(t, ctx, s)
		},
		"Labels": func(t *testing.T, ctx context.Context, s storage.Store) {
			validationLabels(t, ctx, s)
		},
		"Ownership": func(t *testing.T, ctx context.Context, s storage.Store) {
			validationOwnership(t, ctx, s)
		},
		"Versions": func(t *testing.T, ctx context.Context, s storage.Store) {
			q, a := UniqueID("q"), UniqueID("apply")
			b, err := s.CreateBatch(ctx, newBatch(q, "b"))
			require.NoError(t, err)
			for _, v := range []int64{0, -1} {
				_, err = s.UpdateBatch(ctx, b, v, b.State)
				requireInvalid(t, err, "")
				_, err = s.UpdateApply(ctx, newApply(a), v)
				requireInvalid(t, err, "")
				_, err = s.UpdateOperation(ctx, newOperation(a, "op", 0), v)
				requireInvalid(t, err, "")
				err = s.AddMember(ctx, member(q, "s", "b", v, 0))
				requireInvalid(t, err, "Version")
			}
			require.ErrorIs(t, s.RemoveMember(ctx, q, "s", "b", -1), storage.ErrInvalid)
			requireBatchUnchanged(t, ctx, s, q, "b", 1)
			require.Empty(t, explore.RowsOf(t, ctx, s, q, "s"))
		},
	})
}

// requireInvalid requires err to be an input error (ErrInvalid and no other
// sentinel) naming field, unless field is empty; msgAndArgs describe the
// call.
func requireInvalid(t *testing.T, err error, field string, msgAndArgs ...any) {
	t.Helper()
	require.ErrorIs(t, err, storage.ErrInvalid, msgAndArgs...)
	for _, other := range []error{storage.ErrNotFound, storage.ErrConflict, storage.ErrAlreadyExists} {
		require.False(t, errors.Is(err, other), "an input error is only ErrInvalid: %v %v", err, msgAndArgs)
	}
	if field != "" {
		require.ErrorContains(t, err, field, "the error names the field")
	}
}

// requireApplyAndOperationRejected writes apply a and its operation "op"
// changed by mutateApply and mutateOp, on create and then (over rows created
// valid) on update, and requires each write to be an input error naming
// field that writes nothing.
func requireApplyAndOperationRejected(t *testing.T, ctx context.Context, s storage.Store, a, field string,
	mutateApply func(*storage.Apply), mutateOp func(*storage.Operation),
) {
	t.Helper()
	ap, op := newApply(a), newOperation(a, "op", 0)
	mutateApply(&ap)
	mutateOp(&op)
	_, err := s.CreateApply(ctx, ap)
	requireInvalid(t, err, field, "CreateApply")
	_, err = s.GetApply(ctx, a)
	require.ErrorIs(t, err, storage.ErrNotFound, "CreateApply wrote nothing")
	_, err = s.CreateOperation(ctx, op)
	requireInvalid(t, err, field, "CreateOperation")
	_, err = s.GetOperation(ctx, a, "op")
	require.ErrorIs(t, err, storage.ErrNotFound, "CreateOperation wrote nothing")

	okA, err := s.CreateApply(ctx, newApply(a))
	require.NoError(t, err)
	okOp, err := s.CreateOperation(ctx, newOperation(a, "op", 0))
	require.NoError(t, err)
	ap, op = okA, okOp
	mutateApply(&ap)
	mutateOp(&op)
	_, err = s.UpdateApply(ctx, ap, okA.Version)
	requireInvalid(t, err, field, "UpdateApply")
	_, err = s.UpdateOperation(ctx, op, okOp.Version)
	requireInvalid(t, err, field, "UpdateOperation")
	gotA, err := s.GetApply(ctx, a)
	require.NoError(t, err)
	require.Equal(t, okA, gotA, "UpdateApply wrote nothing")
	gotOp, err := s.GetOperation(ctx, a, "op")
	require.NoError(t, err)
	require.Equal(t, okOp, gotOp, "UpdateOperation wrote nothing")
}

func requireBatchUnchanged(t *testing.T, ctx context.Context, s storage.Store, q, id string, version int64) {
	t.Helper()
	b, err := s.GetBatch(ctx, q, id)
	require.NoError(t, err)
	require.Equal(t, version, b.Version, "nothing written")
}

// validationKey calls every method with bad in each key position and checks
// that nothing was written.
func validationKey(t *testing.T, ctx context.Context, s storage.Store, bad string) {
	q, a := UniqueID("q"), UniqueID("apply")
	ok, err := s.CreateBatch(ctx, newBatch(q, "b"))
	require.NoError(t, err)
	_, err = s.CreateApply(ctx, newApply(a))
	require.NoError(t, err)
	okOp, err := s.CreateOperation(ctx, newOperation(a, "op", 0))
	require.NoError(t, err)

	batch := func(f func(*storage.Batch)) storage.Batch { b := ok; f(&b); return b }
	calls := map[string]func() error{
		"CreateBatch.Queue": func() error {
			_, err := s.CreateBatch(ctx, batch(func(b *storage.Batch) { b.Queue = bad }))
			return err
		},
		"CreateBatch.ID": func() error { _, err := s.CreateBatch(ctx, batch(func(b *storage.Batch) { b.ID = bad })); return err },
		"CreateBatch.State": func() error {
			_, err := s.CreateBatch(ctx, batch(func(b *storage.Batch) { b.ID, b.State = "new", bad }))
			return err
		},
		"GetBatch.queue":   func() error { _, err := s.GetBatch(ctx, bad, "b"); return err },
		"GetBatch.id":      func() error { _, err := s.GetBatch(ctx, q, bad); return err },
		"GetBatches.queue": func() error { _, err := s.GetBatches(ctx, bad, []string{"b"}); return err },
		"GetBatches.ids":   func() error { _, err := s.GetBatches(ctx, q, []string{"b", bad}); return err },
		"UpdateBatch.Queue": func() error {
			_, err := s.UpdateBatch(ctx, batch(func(b *storage.Batch) { b.Queue = bad }), 1, ok.State)
			return err
		},
		"UpdateBatch.ID": func() error {
			_, err := s.UpdateBatch(ctx, batch(func(b *storage.Batch) { b.ID = bad }), 1, ok.State)
			return err
		},
		"UpdateBatch.State": func() error {
			_, err := s.UpdateBatch(ctx, batch(func(b *storage.Batch) { b.State = bad }), 1, ok.State)
			return err
		},
		"UpdateBatch.expectedState": func() error {
			// Otherwise a winning update: only the expected state is bad.
			_, err := s.UpdateBatch(ctx, ok, 1, bad)
			return err
		},
		"AddMember.Queue":   func() error { return s.AddMember(ctx, member(bad, "s", "b", 1, 0)) },
		"AddMember.State":   func() error { return s.AddMember(ctx, member(q, bad, "b", 1, 0)) },
		"AddMember.BatchID": func() error { return s.AddMember(ctx, member(q, "s", bad, 1, 0)) },
		"RemoveMember.q":    func() error { return s.RemoveMember(ctx, bad, "s", "b", 1) },
		"RemoveMember.s":    func() error { return s.RemoveMember(ctx, q, bad, "b", 1) },
		"RemoveMember.id":   func() error { return s.RemoveMember(ctx, q, "s", bad, 1) },
		"ListMembers.queue": func() error { _, err := s.ListMembers(ctx, bad, "s"); return err },
		"ListMembers.state": func() error { _, err := s.ListMembers(ctx, q, bad); return err },
		"CreateApply.ID":    func() error { _, err := s.CreateApply(ctx, newApply(bad)); return err },
		"CreateApply.State": func() error {
			ap := newApply(UniqueID("apply"))
			ap.State = bad
			_, err := s.CreateApply(ctx, ap)
			return err
		},
		"GetApply.id":    func() error { _, err := s.GetApply(ctx, bad); return err },
		"UpdateApply.ID": func() error { _, err := s.UpdateApply(ctx, newApply(bad), 1); return err },
		"UpdateApply.State": func() error {
			ap := newApply(a)
			ap.State = bad
			_, err := s.UpdateApply(ctx, ap, 1)
			return err
		},
		"CreateOperation.ApplyID": func() error { _, err := s.CreateOperation(ctx, newOperation(bad, "op", 0)); return err },
		"CreateOperation.ID":      func() error { _, err := s.CreateOperation(ctx, newOperation(a, bad, 0)); return err },
		"GetOperation.applyID":    func() error { _, err := s.GetOperation(ctx, bad, "op"); return err },
		"GetOperation.id":         func() error { _, err := s.GetOperation(ctx, a, bad); return err },
		"ListOperations.applyID":  func() error { _, err := s.ListOperations(ctx, bad); return err },
		"CreateOperation.State": func() error {
			op := newOperation(a, "new", 0)
			op.State = bad
			_, err := s.CreateOperation(ctx, op)
			return err
		},
		"UpdateOperation.ApplyID": func() error {
			op := okOp
			op.ApplyID = bad
			_, err := s.UpdateOperation(ctx, op, 1)
			return err
		},
		"UpdateOperation.ID": func() error { _, err := s.UpdateOperation(ctx, newOperation(a, bad, 0), 1); return err },
		"UpdateOperation.State": func() error {
			op := okOp
			op.State = bad
			_, err := s.UpdateOperation(ctx, op, 1)
			return err
		},
	}
	for name, call := range calls {
		err := call()
		require.ErrorIs(t, err, storage.ErrInvalid, name)
		for _, other := range []error{storage.ErrNotFound, storage.ErrConflict, storage.ErrAlreadyExists} {
			require.NotErrorIs(t, err, other, "%s: an input error is only ErrInvalid", name)
		}
	}
	requireBatchUnchanged(t, ctx, s, q, "b", 1)
	ap, err := s.GetApply(ctx, a)
	require.NoError(t, err)
	require.Equal(t, int64(1), ap.Version)
	op, err := s.GetOperation(ctx, a, "op")
	require.NoError(t, err)
	require.Equal(t, int64(1), op.Version)
	ops, err := s.ListOperations(ctx, a)
	require.NoError(t, err)
	require.Equal(t, []storage.Operation{okOp}, ops)
	require.Empty(t, explore.RowsOf(t, ctx, s, q, "s"))
	got, err := s.GetBatches(ctx, q, []string{"b", "new"})
	require.NoError(t, err)
	require.Len(t, got, 1)
}

// badTimes are non-zero times outside [storage.MinTime, storage.MaxTime],
// by one microsecond: a store must reject them, not clamp them.
var badTimes = map[string]time.Time{
	"before MinTime": storage.MinTime.Add(-time.Microsecond),
	"after MaxTime":  storage.MaxTime.Add(time.Microsecond),
}

// validationTimeRange writes every time field of every entity out of range,
// on create and on update, and requires ErrInvalid and nothing written.
func validationTimeRange(t *testing.T, ctx context.Context, s storage.Store) {
	q, a := UniqueID("q"), UniqueID("apply")
	okB, err := s.CreateBatch(ctx, newBatch(q, "ok"))
	require.NoError(t, err)
	okA, err := s.CreateApply(ctx, newApply(a))
	require.NoError(t, err)
	okOp, err := s.CreateOperation(ctx, newOperation(a, "ok", 0))
	require.NoError(t, err)

	batchTimes := map[string]func(*storage.Batch) *time.Time{
		"CreatedAt": func(b *storage.Batch) *time.Time { return &b.CreatedAt },
		"UpdatedAt": func(b *storage.Batch) *time.Time { return &b.UpdatedAt },
	}
	applyTimes := map[string]func(*storage.Apply) *time.Time{
		"StartedAt":   func(a *storage.Apply) *time.Time { return &a.StartedAt },
		"CompletedAt": func(a *storage.Apply) *time.Time { return &a.CompletedAt },
		"CreatedAt":   func(a *storage.Apply) *time.Time { return &a.CreatedAt },
		"UpdatedAt":   func(a *storage.Apply) *time.Time { return &a.UpdatedAt },
	}
	opTimes := map[string]func(*storage.Operation) *time.Time{
		"StartedAt":   func(op *storage.Operation) *time.Time { return &op.StartedAt },
		"CompletedAt": func(op *storage.Operation) *time.Time { return &op.CompletedAt },
		"CreatedAt":   func(op *storage.Operation) *time.Time { return &op.CreatedAt },
		"UpdatedAt":   func(op *storage.Operation) *time.Time { return &op.UpdatedAt },
	}
	i := 0
	for when, bad := range badTimes {
		for field, at := range batchTimes {
			i++
			what := fmt.Sprintf("batch.%s %s (%s)", field, when, bad.Format(time.RFC3339Nano))
			b := newBatch(q, fmt.Sprintf("new%d", i))
			*at(&b) = bad
			_, err := s.CreateBatch(ctx, b)
			requireInvalid(t, err, "", "CreateBatch with "+what)
			_, err = s.GetBatch(ctx, q, b.ID)
			require.ErrorIs(t, err, storage.ErrNotFound, "CreateBatch with %s wrote nothing", what)
			up := okB
			*at(&up) = bad
			_, err = s.UpdateBatch(ctx, up, okB.Version, okB.State)
			requireInvalid(t, err, "", "UpdateBatch with "+what)
		}
		for field, at := range applyTimes {
			i++
			what := fmt.Sprintf("apply.%s %s (%s)", field, when, bad.Format(time.RFC3339Nano))
			ap := newApply(fmt.Sprintf("%s-new%d", a, i))
			*at(&ap) = bad
			_, err := s.CreateApply(ctx, ap)
			requireInvalid(t, err, "", "CreateApply with "+what)
			_, err = s.GetApply(ctx, ap.ID)
			require.ErrorIs(t, err, storage.ErrNotFound, "CreateApply with %s wrote nothing", what)
			up := okA
			*at(&up) = bad
			_, err = s.UpdateApply(ctx, up, okA.Version)
			requireInvalid(t, err, "", "UpdateApply with "+what)
		}
		for field, at := range opTimes {
			i++
			what := fmt.Sprintf("operation.%s %s (%s)", field, when, bad.Format(time.RFC3339Nano))
			requireOperationRejected(ctx, t, s, okOp, fmt.Sprintf("new%d", i), func(op *storage.Operation) { *at(op) = bad }, what)
		}
		err := s.AddMember(ctx, storage.Member{Queue: q, State: "s", BatchID: "b", Version: 1, AddedAt: bad})
		requireInvalid(t, err, "", "AddMember with member.AddedAt "+when)
	}
	require.Empty(t, explore.RowsOf(t, ctx, s, q, "s"), "nothing written")
	gotB, err := s.GetBatch(ctx, q, "ok")
	require.NoError(t, err)
	require.Equal(t, okB, gotB, "nothing written")
	gotA, err := s.GetApply(ctx, a)
	require.NoError(t, err)
	require.Equal(t, okA, gotA, "nothing written")
	ops, err := s.ListOperations(ctx, a)
	require.NoError(t, err)
	require.Equal(t, []storage.Operation{okOp}, ops, "nothing written")

	// The bounds themselves are valid and come back exactly.
	edge := newBatch(q, "edge")
	edge.CreatedAt, edge.UpdatedAt = storage.MinTime, storage.MaxTime
	created, err := s.CreateBatch(ctx, edge)
	require.NoError(t, err, "MinTime and MaxTime are valid")
	require.Equal(t, storage.MinTime, created.CreatedAt)
	require.Equal(t, storage.MaxTime, created.UpdatedAt)
	gotB, err = s.GetBatch(ctx, q, "edge")
	require.NoError(t, err)
	require.Equal(t, created, gotB)
}

// badLabels are labels (an operation's Deployment, Group and OnFailure)
// that a store must reject, not truncate or repair.
var badLabels = map[string]string{
	"oversized": strings.Repeat("l", storage.MaxKeyBytes+1),
	"not UTF-8": "dep\xff",
}

// validationLabels writes bad labels on create and on update and requires
// ErrInvalid and nothing written; a label of exactly MaxKeyBytes comes back
// whole.
func validationLabels(t *testing.T, ctx context.Context, s storage.Store) {
	a := UniqueID("apply")
	ok, err := s.CreateOperation(ctx, newOperation(a, "ok", 0))
	require.NoError(t, err)
	labels := map[string]func(*storage.Operation) *string{
		"Deployment": func(op *storage.Operation) *string { return &op.Deployment },
		"Group":      func(op *storage.Operation) *string { return &op.Group },
		"OnFailure":  func(op *storage.Operation) *string { return &op.OnFailure },
	}
	i := 0
	for kind, bad := range badLabels {
		for field, at := range labels {
			i++
			what := fmt.Sprintf("an operation.%s %s", field, kind)
			requireOperationRejected(ctx, t, s, ok, fmt.Sprintf("new%d", i), func(op *storage.Operation) { *at(op) = bad }, what)
		}
	}
	ops, err := s.ListOperations(ctx, a)
	require.NoError(t, err)
	require.Equal(t, []storage.Operation{ok}, ops, "nothing written")

	limit := strings.Repeat("é", storage.MaxKeyBytes/2) + "x" // 255 bytes
	for field, at := range labels {
		i++
		op := newOperation(a, fmt.Sprintf("limit%d", i), 0)
		*at(&op) = limit
		created, err := s.CreateOperation(ctx, op)
		require.NoError(t, err, "an operation.%s of exactly MaxKeyBytes is valid", field)
		got, err := s.GetOperation(ctx, a, op.ID)
		require.NoError(t, err)
		require.Equal(t, created, got)
		require.Equal(t, limit, *at(&got), "an operation.%s at the limit is kept whole", field)
	}
}

// requireOperationRejected checks that an operation changed by mutate is
// ErrInvalid both as a new operation id of stored's apply (nothing is
// created) and as an update of stored.
func requireOperationRejected(ctx context.Context, t *testing.T, s storage.Store, stored storage.Operation, id string, mutate func(*storage.Operation), what string) {
	t.Helper()
	op := newOperation(stored.ApplyID, id, 0)
	mutate(&op)
	_, err := s.CreateOperation(ctx, op)
	requireInvalid(t, err, "", "CreateOperation with "+what)
	_, err = s.GetOperation(ctx, stored.ApplyID, op.ID)
	require.ErrorIs(t, err, storage.ErrNotFound, "CreateOperation with %s wrote nothing", what)
	up := stored
	mutate(&up)
	_, err = s.UpdateOperation(ctx, up, stored.Version)
	requireInvalid(t, err, "", "UpdateOperation with "+what)
}

// validationOwnership writes each bad ownership or release field of an
// operation (Owner, OwnerToken, OwnerUntil, ReleasedAt; and
// ProjectedVersion) on create and on
// update, and requires ErrInvalid naming the field and nothing written.
func validationOwnership(t *testing.T, ctx context.Context, s storage.Store) {
	a := UniqueID("apply")
	stored, err := s.CreateOperation(ctx, newOperation(a, "ok", 0))
	require.NoError(t, err)
	type badField struct {
		field  string
		what   string
		mutate func(*storage.Operation)
	}
	cases := []badField{
		{"operation.Owner", "oversized", func(op *storage.Operation) { op.Owner = strings.Repeat("o", storage.MaxKeyBytes+1) }},
		{"operation.Owner", "not UTF-8", func(op *storage.Operation) { op.Owner = "loop\xff" }},
		{"operation.OwnerToken", "negative", func(op *storage.Operation) { op.OwnerToken = -1 }},
		{"operation.OwnerToken", "most negative", func(op *storage.Operation) { op.OwnerToken = -1 << 63 }},
		{"operation.ProjectedVersion", "negative", func(op *storage.Operation) { op.ProjectedVersion = -1 }},
	}
	for when, bad := range badTimes {
		cases = append(cases,
			badField{"operation.OwnerUntil", when, func(op *storage.Operation) { op.OwnerUntil = bad }},
			badField{"operation.ReleasedAt", when, func(op *storage.Operation) { op.ReleasedAt = bad }})
	}
	for i, c := range cases {
		what := c.field + " " + c.what
		op := newOperation(a, fmt.Sprintf("new%d", i), 0)
		c.mutate(&op)
		_, err := s.CreateOperation(ctx, op)
		requireInvalid(t, err, c.field, "CreateOperation with "+what)
		_, err = s.GetOperation(ctx, a, op.ID)
		require.ErrorIs(t, err, storage.ErrNotFound, "CreateOperation with %s wrote nothing", what)
		up := stored
		c.mutate(&up)
		_, err = s.UpdateOperation(ctx, up, stored.Version)
		requireInvalid(t, err, c.field, "UpdateOperation with "+what)
	}
	ops, err := s.ListOperations(ctx, a)
	require.NoError(t, err)
	require.Equal(t, []storage.Operation{stored}, ops, "nothing written")
}

func runRoundTrip(t *testing.T, newStore func(t *testing.T) storage.Store) {
	explore.Parallel(t, newStore, map[string]func(t *testing.T, ctx context.Context, s storage.Store){
		"PayloadBytes": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			all := make([]byte, 256)
			for i := range all {
				all[i] = byte(i)
			}
			big := bytes.Repeat([]byte{0, 0xff, 'x'}, storage.MaxPayloadBytes/3+1)[:storage.MaxPayloadBytes]
			for id, p := range map[string][]byte{"all": all, "big": big, "nul": {0}} {
				b := newBatch(q, id)
				b.Payload = p
				_, err := s.CreateBatch(ctx, b)
				require.NoError(t, err, id)
				got, err := s.GetBatch(ctx, q, id)
				require.NoError(t, err)
				require.Equal(t, p, got.Payload, id)
			}
		},
		"PayloadEmpty": func(t *testing.T, ctx context.Context, s storage.Store) {
			q, a := UniqueID("q"), UniqueID("apply")
			for id, p := range map[string][]byte{"nil": nil, "empty": {}} {
				b := newBatch(q, id)
				b.Payload = p
				created, err := s.CreateBatch(ctx, b)
				require.NoError(t, err)
				require.Empty(t, created.Payload)
				got, err := s.GetBatch(ctx, q, id)
				require.NoError(t, err)
				require.Empty(t, got.Payload, "nil and empty are the same")
			}
			b, err := s.GetBatch(ctx, q, "nil")
			require.NoError(t, err)
			b.Payload = []byte("now")
			b, err = s.UpdateBatch(ctx, b, b.Version, b.State)
			require.NoError(t, err)
			b.Payload = nil
			_, err = s.UpdateBatch(ctx, b, b.Version, b.State)
			require.NoError(t, err)
			got, err := s.GetBatch(ctx, q, "nil")
			require.NoError(t, err)
			require.Empty(t, got.Payload, "an update clears the payload")
			ap := newApply(a)
			ap.Payload = nil
			_, err = s.CreateApply(ctx, ap)
			require.NoError(t, err)
			gotA, err := s.GetApply(ctx, a)
			require.NoError(t, err)
			require.Empty(t, gotA.Payload)
		},
		"PayloadNotAliased": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			b := newBatch(q, "b")
			b.Payload = []byte("abc")
			created, err := s.CreateBatch(ctx, b)
			require.NoError(t, err)
			b.Payload[0] = 'X'
			created.Payload[1] = 'Y'
			got, err := s.GetBatch(ctx, q, "b")
			require.NoError(t, err)
			require.Equal(t, []byte("abc"), got.Payload, "a store copies payloads in and out")
		},
		"ReadsNotAliased": func(t *testing.T, ctx context.Context, s storage.Store) {
			q, a := UniqueID("q"), UniqueID("apply")
			const want = "abc" // each write gets a fresh copy
			b := newBatch(q, "b")
			b.Payload = []byte(want)
			_, err := s.CreateBatch(ctx, b)
			require.NoError(t, err)
			ap := newApply(a)
			ap.Payload = []byte(want)
			_, err = s.CreateApply(ctx, ap)
			require.NoError(t, err)
			op := newOperation(a, "op", 0)
			op.Payload = []byte(want)
			_, err = s.CreateOperation(ctx, op)
			require.NoError(t, err)

			// Every read hands out a payload of its own: scribbling over
			// it, then reading again by every method, must show the stored
			// bytes.
			reads := map[string]func() ([]byte, error){
				"GetBatch": func() ([]byte, error) {
					got, err := s.GetBatch(ctx, q, "b")
					return got.Payload, err
				},
				"GetBatches": func() ([]byte, error) {
					got, err := s.GetBatches(ctx, q, []string{"b"})
					if err != nil || len(got) != 1 {
						return nil, fmt.Errorf("GetBatches returned %d rows: %w", len(got), err)
					}
					return got[0].Payload, nil
				},
				"GetApply": func() ([]byte, error) {
					got, err := s.GetApply(ctx, a)
					return got.Payload, err
				},
				"GetOperation": func() ([]byte, error) {
					got, err := s.GetOperation(ctx, a, "op")
					return got.Payload, err
				},
				"ListOperations": func() ([]byte, error) {
					got, err := s.ListOperations(ctx, a)
					if err != nil || len(got) != 1 {
						return nil, fmt.Errorf("ListOperations returned %d rows: %w", len(got), err)
					}
					return got[0].Payload, nil
				},
			}
			// Two readers never share a slice either: read twice, then
			// write into the first; the second still holds the stored
			// bytes (a store that refreshes one buffer on every read
			// passes the check below, not this one).
			for first, r1 := range reads {
				for second, r2 := range reads {
					p1, err := r1()
					require.NoError(t, err, first)
					p2, err := r2()
					require.NoError(t, err, second)
					for i := range p1 {
						p1[i] ^= 0xff
					}
					require.Equal(t, want, string(p2), "%s's payload changed when a caller wrote into the one %s returned before it: two reads share a slice", second, first)
				}
			}
			for name, read := range reads {
				for range 2 { // the first read may fill a cache; the second hits it
					p, err := read()
					require.NoError(t, err, name)
					require.Equal(t, want, string(p), name)
					for i := range p {
						p[i] ^= 0xff
					}
				}
				for again, check := range reads {
					p, err := check()
					require.NoError(t, err, again)
					require.Equal(t, want, string(p), "%s after a caller wrote into the payload %s returned: a store copies payloads out", again, name)
				}
			}
		},
		"Times": func(t *testing.T, ctx context.Context, s storage.Store) {
			q, a := UniqueID("q"), UniqueID("apply")
			zone := time.FixedZone("UTC+5:30", 5*3600+1800)
			local := time.Date(2030, 2, 3, 4, 5, 6, 789012345, zone)
			b := newBatch(q, "b")
			b.CreatedAt, b.UpdatedAt = local, time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
			created, err := s.CreateBatch(ctx, b)
			require.NoError(t, err)
			got, err := s.GetBatch(ctx, q, "b")
			require.NoError(t, err)
			require.Equal(t, created, got)
			want := local.UTC().Truncate(time.Microsecond)
			require.True(t, got.CreatedAt.Equal(want), "%s != %s", got.CreatedAt, want)
			require.Equal(t, time.UTC, got.CreatedAt.Location(), "returned in UTC")
			require.Equal(t, want, got.CreatedAt)
			require.Equal(t, b.UpdatedAt, got.UpdatedAt)

			ap := newApply(a)
			ap.CreatedAt, ap.UpdatedAt = time.Time{}, time.Time{}
			_, err = s.CreateApply(ctx, ap)
			require.NoError(t, err)
			gotA, err := s.GetApply(ctx, a)
			require.NoError(t, err)
			require.True(t, gotA.StartedAt.IsZero(), "zero times stay zero")
			require.True(t, gotA.CompletedAt.IsZero())
			require.True(t, gotA.CreatedAt.IsZero())
			gotA.StartedAt = time.Date(1000, 1, 1, 0, 0, 0, 1000, time.UTC)
			gotA, err = s.UpdateApply(ctx, gotA, gotA.Version)
			require.NoError(t, err)
			again, err := s.GetApply(ctx, a)
			require.NoError(t, err)
			require.Equal(t, gotA, again)

			require.NoError(t, s.AddMember(ctx, storage.Member{Queue: q, State: "s", BatchID: "b", Version: 1, AddedAt: local}))
			ms, err := s.ListMembers(ctx, q, "s")
			require.NoError(t, err)
			require.Len(t, ms, 1)
			require.Equal(t, want, ms[0].AddedAt)
		},
		"Fields": func(t *testing.T, ctx context.Context, s storage.Store) {
			a := UniqueID("apply")
			ap := newApply(a)
			ap.State, ap.StopRequested, ap.PauseReleased = "paused", true, true
			ap.ErrorMessage = strings.Repeat("é", storage.MaxMessageBytes/2)
			ap.StartedAt, ap.CompletedAt = ts(1), ts(2)
			created, err := s.CreateApply(ctx, ap)
			require.NoError(t, err)
			got, err := s.GetApply(ctx, a)
			require.NoError(t, err)
			require.Equal(t, created, got)
			require.True(t, got.StopRequested)
			require.True(t, got.PauseReleased)
			require.Len(t, got.ErrorMessage, storage.MaxMessageBytes)

			op := newOperation(a, "op", -7)
			op.Group, op.Finalizer, op.OnFailure, op.Deployment = "g/h#1", true, "pause", "déploiement"
			op.Projected, op.ProjectedVersion = true, 1<<63-1
			op.ErrorMessage = "line1\nline2\x00" + strings.Repeat("m", storage.MaxMessageBytes-12)
			createdOp, err := s.CreateOperation(ctx, op)
			require.NoError(t, err)
			gotOp, err := s.GetOperation(ctx, a, "op")
			require.NoError(t, err)
			require.Equal(t, createdOp, gotOp)
			require.Equal(t, int64(-7), gotOp.Seq)
			require.True(t, gotOp.Finalizer)
			require.True(t, gotOp.Projected)
			require.Equal(t, int64(1<<63-1), gotOp.ProjectedVersion, "ProjectedVersion comes back exactly")
			require.Len(t, gotOp.ErrorMessage, storage.MaxMessageBytes, "a message at the limit is kept whole")
			list, err := s.ListOperations(ctx, a)
			require.NoError(t, err)
			require.Equal(t, []storage.Operation{createdOp}, list)
		},
		"Ownership": func(t *testing.T, ctx context.Context, s storage.Store) {
			roundTripOwnership(t, ctx, s)
		},
	})
}

// roundTripOwnership writes an operation's ownership and release fields
// (Owner, OwnerToken, OwnerUntil, ReleasedAt) set and zero, on create and
// on update, and requires every read to return them exactly: times in UTC
// at microsecond precision, zero staying zero, the largest token whole.
func roundTripOwnership(t *testing.T, ctx context.Context, s storage.Store) {
	a := UniqueID("apply")
	zone := time.FixedZone("UTC-3", -3*3600)
	until := time.Date(2031, 5, 6, 7, 8, 9, 123456789, zone)
	released := time.Date(2031, 5, 6, 7, 0, 0, 999, time.UTC)
	requireStored := func(want storage.Operation, what string) {
		t.Helper()
		got, err := s.GetOperation(ctx, a, want.ID)
		require.NoError(t, err, what)
		require.Equal(t, want, got, "GetOperation after %s", what)
		list, err := s.ListOperations(ctx, a)
		require.NoError(t, err, what)
		found := false
		for _, op := range list {
			if op.ID == want.ID {
				require.Equal(t, want, op, "ListOperations after %s", what)
				found = true
			}
		}
		require.True(t, found, "ListOperations after %s lists %s", what, want.ID)
	}

	// Set on create.
	op := newOperation(a, "owned", 1)
	op.OnFailure, op.State, op.StartedAt, op.CompletedAt = "pause", "failed", ts(1), ts(2)
	op.Owner, op.OwnerToken, op.OwnerUntil, op.ReleasedAt = "loop é/1#x", 1<<63-1, until, released
	created, err := s.CreateOperation(ctx, op)
	require.NoError(t, err)
	require.Equal(t, "loop é/1#x", created.Owner)
	require.Equal(t, int64(1<<63-1), created.OwnerToken)
	require.Equal(t, until.UTC().Truncate(time.Microsecond), created.OwnerUntil)
	require.Equal(t, time.UTC, created.OwnerUntil.Location(), "returned in UTC")
	require.Equal(t, released.Truncate(time.Microsecond), created.ReleasedAt)
	requireStored(created, "a create with every ownership field set")

	// Zero on create.
	plain, err := s.CreateOperation(ctx, newOperation(a, "plain", 2))
	require.NoError(t, err)
	requireUnowned(t, plain)
	requireStored(plain, "a create with every ownership field zero")

	// Set on update, then changed, then cleared.
	up := plain
	up.Owner, up.OwnerToken, up.OwnerUntil, up.ReleasedAt = strings.Repeat("é", storage.MaxKeyBytes/2)+"x", 1, storage.MaxTime, storage.MinTime
	up, err = s.UpdateOperation(ctx, up, plain.Version)
	require.NoError(t, err)
	require.Equal(t, plain.Version+1, up.Version)
	requireStored(up, "an update setting every ownership field")
	up.Owner, up.OwnerToken, up.OwnerUntil = "loop-2", 2, until.Add(time.Minute)
	up, err = s.UpdateOperation(ctx, up, up.Version)
	require.NoError(t, err)
	requireStored(up, "an update changing the owner")
	up.Owner, up.OwnerToken, up.OwnerUntil, up.ReleasedAt = "", 0, time.Time{}, time.Time{}
	up, err = s.UpdateOperation(ctx, up, up.Version)
	require.NoError(t, err)
	requireUnowned(t, up)
	requireStored(up, "an update clearing every ownership field")

	// Clearing the fields of the row created with them set.
	cl := created
	cl.Owner, cl.OwnerToken, cl.OwnerUntil, cl.ReleasedAt = "", 0, time.Time{}, time.Time{}
	cl, err = s.UpdateOperation(ctx, cl, created.Version)
	require.NoError(t, err)
	requireStored(cl, "an update clearing the fields set on create")
	require.Equal(t, "pause", cl.OnFailure, "the declared policy is kept")
}

// requireUnowned requires op to carry none of the ownership fields.
func requireUnowned(t *testing.T, op storage.Operation) {
	t.Helper()
	require.Empty(t, op.Owner)
	require.Zero(t, op.OwnerToken)
	require.True(t, op.OwnerUntil.IsZero())
	require.True(t, op.ReleasedAt.IsZero())
}
