package storagetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/explore"
)

// trickyKeys are distinct keys that a store folding case, trimming or
// padding spaces, normalizing Unicode, or splitting on a separator would
// confuse.
var trickyKeys = []string{
	"Q", "q", "a", "a ", " a", "A",
	"x#y", "x/y", "x:y", "x%y", "x\x00y", "x|y", "x", "xy", "x#", "#y",
	"é", "e\u0301", "E", "e", "ß", "ss", "ﬁ", "fi",
	"%", "%25", "_", "\x00", "\x00\x00",
}

func runKeys(t *testing.T, newStore func(t *testing.T) storage.Store) {
	explore.Parallel(t, newStore, map[string]func(t *testing.T, ctx context.Context, s storage.Store){
		"BatchIDs": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			for i, k := range trickyKeys {
				b := newBatch(q, k)
				b.Payload = []byte{byte(i)}
				_, err := s.CreateBatch(ctx, b)
				require.NoError(t, err, "key %q must not collide", k)
			}
			for i, k := range trickyKeys {
				b, err := s.GetBatch(ctx, q, k)
				require.NoError(t, err)
				require.Equal(t, k, b.ID)
				require.Equal(t, []byte{byte(i)}, b.Payload, "key %q read another row", k)
			}
			got, err := s.GetBatches(ctx, q, trickyKeys)
			require.NoError(t, err)
			require.Len(t, got, len(trickyKeys))
			for _, b := range got {
				require.Equal(t, b.ID, trickyKeys[b.Payload[0]])
			}
		},
		"Queues": func(t *testing.T, ctx context.Context, s storage.Store) {
			base := UniqueID("q")
			for i, k := range trickyKeys {
				b := newBatch(base+k, "b")
				b.Payload = []byte{byte(i)}
				_, err := s.CreateBatch(ctx, b)
				require.NoError(t, err, "queue %q must not collide", base+k)
				require.NoError(t, s.AddMember(ctx, member(base+k, "s", "b", int64(i+1), 0)))
			}
			for i, k := range trickyKeys {
				b, err := s.GetBatch(ctx, base+k, "b")
				require.NoError(t, err)
				require.Equal(t, []byte{byte(i)}, b.Payload)
				require.Equal(t, map[string]int64{"b": int64(i + 1)}, explore.RowsOf(t, ctx, s, base+k, "s"))
			}
		},
		"States": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			for i, k := range trickyKeys {
				require.NoError(t, s.AddMember(ctx, member(q, k, "b", int64(i+1), 0)))
			}
			for i, k := range trickyKeys {
				require.Equal(t, map[string]int64{"b": int64(i + 1)}, explore.RowsOf(t, ctx, s, q, k), "state %q", k)
			}
		},
		"MemberIDs": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			want := map[string]int64{}
			for i, k := range trickyKeys {
				want[k] = int64(i + 1)
				require.NoError(t, s.AddMember(ctx, member(q, "s", k, int64(i+1), 0)))
			}
			require.Equal(t, want, explore.RowsOf(t, ctx, s, q, "s"), "every batch id is its own row")
			require.NoError(t, s.RemoveMember(ctx, q, "s", "q", 100))
			require.NoError(t, s.RemoveMember(ctx, q, "s", "a ", 100))
			delete(want, "q")
			delete(want, "a ")
			require.Equal(t, want, explore.RowsOf(t, ctx, s, q, "s"), "removal takes exactly its own row")
		},
		"StatePrefixes": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			// (state, id) pairs that concatenate alike with any separator.
			pairs := [][2]string{
				{"a", "b#c"}, {"a#b", "c"}, {"ab", "c"}, {"a", "bc"},
				{"a", "b\x00c"}, {"a\x00b", "c"}, {"a", "b|c"}, {"a|b", "c"},
				{"a/b", "c"}, {"a", "b/c"}, {"a:b", "c"}, {"a", "b:c"}, {"a#", "c"}, {"a", "#c"},
			}
			want := map[string]map[string]int64{}
			for i, p := range pairs {
				require.NoError(t, s.AddMember(ctx, member(q, p[0], p[1], int64(i+1), 0)))
				if want[p[0]] == nil {
					want[p[0]] = map[string]int64{}
				}
				want[p[0]][p[1]] = int64(i + 1)
			}
			for state, rows := range want {
				require.Equal(t, rows, explore.RowsOf(t, ctx, s, q, state), "state %q lists only its own rows", state)
			}
			require.Empty(t, explore.RowsOf(t, ctx, s, q, "a#b#"))
			require.NoError(t, s.RemoveMember(ctx, q, "a", "b#c", 100))
			require.Equal(t, map[string]int64{"c": 2}, explore.RowsOf(t, ctx, s, q, "a#b"), "removal does not cross states")
		},
		"ApplyAndOperationIDs": func(t *testing.T, ctx context.Context, s storage.Store) {
			base := UniqueID("apply")
			for i, k := range trickyKeys {
				a := newApply(base + k)
				a.Payload = []byte{byte(i)}
				_, err := s.CreateApply(ctx, a)
				require.NoError(t, err, "apply %q", base+k)
				op := newOperation(base, k, int64(i))
				_, err = s.CreateOperation(ctx, op)
				require.NoError(t, err, "operation %q", k)
				_, err = s.CreateOperation(ctx, newOperation(base+k, "op", 0))
				require.NoError(t, err)
			}
			for i, k := range trickyKeys {
				a, err := s.GetApply(ctx, base+k)
				require.NoError(t, err)
				require.Equal(t, []byte{byte(i)}, a.Payload)
				op, err := s.GetOperation(ctx, base, k)
				require.NoError(t, err)
				require.Equal(t, int64(i), op.Seq)
				ops, err := s.ListOperations(ctx, base+k)
				require.NoError(t, err)
				require.Len(t, ops, 1, "apply %q lists only its own operations", base+k)
			}
			ops, err := s.ListOperations(ctx, base)
			require.NoError(t, err)
			require.Len(t, ops, len(trickyKeys))
		},
	})
}
