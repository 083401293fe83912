package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/explore"
)

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
