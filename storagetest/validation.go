package storagetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
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
	parallel(t, newStore, map[string]func(t *testing.T, ctx context.Context, s storage.Store){
		"KeyAtLimit": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := uid("q")
			id := strings.Repeat("é", storage.MaxKeyBytes/2) + "x" // 255 bytes
			require.Len(t, id, storage.MaxKeyBytes)
			_, err := s.CreateBatch(ctx, newBatch(q, id))
			require.NoError(t, err, "a key of exactly MaxKeyBytes is valid")
			_, err = s.GetBatch(ctx, q, id)
			require.NoError(t, err)
		},
		"Payload": func(t *testing.T, ctx context.Context, s storage.Store) {
			q, a := uid("q"), uid("apply")
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

			ap := newApply(a)
			ap.Payload = big
			_, err = s.CreateApply(ctx, ap)
			requireInvalid(t, err, "Payload")
			op := newOperation(a, "op", 0)
			op.Payload = big
			_, err = s.CreateOperation(ctx, op)
			requireInvalid(t, err, "Payload")
			_, err = s.GetApply(ctx, a)
			require.ErrorIs(t, err, storage.ErrNotFound)
			_, err = s.GetOperation(ctx, a, "op")
			require.ErrorIs(t, err, storage.ErrNotFound)

			okA, err := s.CreateApply(ctx, newApply(a))
			require.NoError(t, err)
			okA.Payload = big
			_, err = s.UpdateApply(ctx, okA, 1)
			requireInvalid(t, err, "Payload")
			okOp, err := s.CreateOperation(ctx, newOperation(a, "op", 0))
			require.NoError(t, err)
			okOp.Payload = big
			_, err = s.UpdateOperation(ctx, okOp, 1)
			requireInvalid(t, err, "Payload")
			gotA, err := s.GetApply(ctx, a)
			require.NoError(t, err)
			require.Equal(t, int64(1), gotA.Version, "nothing written")
			require.Equal(t, []byte("a"), gotA.Payload)
			gotOp, err := s.GetOperation(ctx, a, "op")
			require.NoError(t, err)
			require.Equal(t, int64(1), gotOp.Version, "nothing written")
			require.Empty(t, gotOp.Payload)
		},
		"Message": func(t *testing.T, ctx context.Context, s storage.Store) {
			a := uid("apply")
			long := strings.Repeat("m", storage.MaxMessageBytes+1)
			badA := newApply(a)
			badA.ErrorMessage = long
			_, err := s.CreateApply(ctx, badA)
			requireInvalid(t, err, "ErrorMessage")
			_, err = s.GetApply(ctx, a)
			require.ErrorIs(t, err, storage.ErrNotFound, "nothing written")
			badOp := newOperation(a, "op", 0)
			badOp.ErrorMessage = long
			_, err = s.CreateOperation(ctx, badOp)
			requireInvalid(t, err, "ErrorMessage")
			_, err = s.GetOperation(ctx, a, "op")
			require.ErrorIs(t, err, storage.ErrNotFound, "nothing written")
			ap, err := s.CreateApply(ctx, newApply(a))
			require.NoError(t, err)
			ap.ErrorMessage = long
			_, err = s.UpdateApply(ctx, ap, 1)
			requireInvalid(t, err, "ErrorMessage")
			op, err := s.CreateOperation(ctx, newOperation(a, "op", 0))
			require.NoError(t, err)
			op.ErrorMessage = "bad\xff"
			_, err = s.UpdateOperation(ctx, op, 1)
			requireInvalid(t, err, "ErrorMessage")
			got, err := s.GetApply(ctx, a)
			require.NoError(t, err)
			require.Equal(t, int64(1), got.Version)
			gotOp, err := s.GetOperation(ctx, a, "op")
			require.NoError(t, err)
			require.Equal(t, int64(1), gotOp.Version)
		},
		"Versions": func(t *testing.T, ctx context.Context, s storage.Store) {
			q, a := uid("q"), uid("apply")
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
			require.Empty(t, rowsOf(t, ctx, s, q, "s"))
		},
	})
}

func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	require.ErrorIs(t, err, storage.ErrInvalid)
	for _, other := range []error{storage.ErrNotFound, storage.ErrConflict, storage.ErrAlreadyExists} {
		require.False(t, errors.Is(err, other), "an input error is only ErrInvalid: %v", err)
	}
	if field != "" {
		require.ErrorContains(t, err, field, "the error names the field")
	}
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
	q, a := uid("q"), uid("apply")
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
			ap := newApply(uid("apply"))
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
	require.Empty(t, rowsOf(t, ctx, s, q, "s"))
	got, err := s.GetBatches(ctx, q, []string{"b", "new"})
	require.NoError(t, err)
	require.Len(t, got, 1)
}
