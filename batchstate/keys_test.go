package batchstate

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

// payloadKeys files a batch under the comma-separated words of its payload.
func payloadKeys(b storage.Batch) []string {
	if len(b.Payload) == 0 {
		return nil
	}
	return strings.Split(string(b.Payload), ",")
}

// tix is the index of the decision tables.
var tix = []index{{name: "req", keys: payloadKeys}}

func withPayload(b storage.Batch, p string) storage.Batch { b.Payload = []byte(p); return b }

func TestPlanKeys(t *testing.T) {
	t.Parallel()
	prev := storage.Batch{Queue: "q", ID: "x", State: "a", Version: 4, Payload: []byte("k1,k2")}
	mark := func(k string) storage.Member {
		return storage.Member{Queue: "q", State: markBucket("req"), BatchID: k, Version: t0.UnixMicro(), AddedAt: t0}
	}
	key := func(k string, v int64) storage.Member {
		return storage.Member{Queue: "q", State: keyBucket("req", k), BatchID: "x", Version: v, AddedAt: t0}
	}
	done := func(v int64) storage.Member {
		return storage.Member{Queue: "q", State: doneBucket(t0), BatchID: "x", Version: v, AddedAt: t0}
	}
	next := func(state, p string) storage.Batch {
		n := withPayload(prev, p)
		n.State, n.UpdatedAt = state, t0
		return n
	}
	for _, c := range []struct {
		name       string
		prev       *storage.Batch
		next       storage.Batch
		done       bool
		wantBefore []storage.Member
		wantDrop   []keyRef
	}{
		{"a create: every key marked, then filed at version 1", nil, next("a", "k2,k1,k2"), false,
			[]storage.Member{mark("k1"), mark("k2"), key("k1", 1), key("k2", 1)}, nil},
		{"the same keys: nothing to add or remove", &prev, next("b", "k2,k1"), false, nil, nil},
		{"a key swapped: both marked, the new one filed ahead, the old one dropped after", &prev, next("b", "k1,k3"), false,
			[]storage.Member{mark("k3"), mark("k2"), key("k3", 5)}, []keyRef{{"req", "k2"}}},
		{"into a terminal state, filed by day: the completion row last", &prev, next("z", "k1,k2"), true,
			[]storage.Member{done(5)}, nil},
		{"into a terminal state, not filed by day", &prev, next("z", "k1,k2"), false, nil, nil},
		{"a create into a terminal state, filed by day", nil, next("z", ""), true, []storage.Member{done(1)}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			version := int64(1)
			if c.prev != nil {
				version = c.prev.Version + 1
			}
			p, err := planKeys(tm, tix, c.done, c.prev, c.next, version, t0)
			require.NoError(t, err)
			require.Equal(t, c.wantBefore, p.before)
			require.Equal(t, c.wantDrop, p.drop)
		})
	}
}

func TestPlanKeysRefusesBadKeys(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]string{
		"an empty key":   "k1,",
		"a key too long": strings.Repeat("k", MaxIndexKeyBytes+1),
		"invalid UTF-8":  "\xff",
		"too many keys":  strings.Repeat("k,", MaxIndexKeys) + "k",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := planKeys(tm, tix, false, nil, storage.Batch{Queue: "q", ID: "x", State: "a", Payload: []byte(p)}, 1, t0)
			require.ErrorIs(t, err, storage.ErrInvalid)
			require.ErrorContains(t, err, "index req")
		})
	}
}

func TestLostRows(t *testing.T) {
	t.Parallel()
	prev := storage.Batch{Queue: "q", ID: "x", State: "a", Version: 4, Payload: []byte("k1")}
	next := withPayload(prev, "k2")
	next.State, next.UpdatedAt = "z", t0
	cur := func(state, p string, v int64, at time.Time) storage.Batch {
		c := withPayload(prev, p)
		c.State, c.Version, c.UpdatedAt = state, v, at
		return c
	}
	for _, c := range []struct {
		name string
		cur  storage.Batch
		want []removal
	}{
		{"the batch is behind the rows: Reconcile decides", cur("a", "k1", 3, t0), nil},
		{"another write won without the keys: both rows go, up to its version",
			cur("b", "k1", 5, t0), []removal{{doneBucket(t0), 5}, {keyBucket("req", "k2"), 5}}},
		{"another write won with the key, finished the same day: both rows are its own",
			cur("z", "k2", 5, t0.Add(time.Minute)), nil},
		{"finished another day: the completion row goes",
			cur("z", "k2", 5, t0.Add(48*time.Hour)), []removal{{doneBucket(t0), 5}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, lostRows(tm, tix, prev, next, c.cur))
		})
	}
}

func TestDecideKeyRow(t *testing.T) {
	t.Parallel()
	r := storage.Member{Version: 5}
	b := func(v int64) storage.Batch { return storage.Batch{Version: v} }
	for _, c := range []struct {
		name                      string
		b                         storage.Batch
		exists, hasKey, pastGrace bool
		want                      keyAction
	}{
		{"no batch within the grace: a create in flight", b(0), false, false, false, keyInFlight},
		{"no batch past the grace: tombstone, then remove", b(0), false, false, true, keyAbandon},
		{"the batch has the key", b(3), true, true, true, keyLive},
		{"the batch lacks the key at the row's version: stale", b(5), true, false, false, keyRemove},
		{"the batch lacks the key past the row's version: stale", b(9), true, false, false, keyRemove},
		{"the row is ahead within the grace: a transition in flight", b(4), true, false, false, keyInFlight},
		{"the row is ahead past the grace: fence", b(4), true, false, true, keyFence},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, decideKeyRow(r, c.b, c.exists, c.hasKey, c.pastGrace))
		})
	}
}

func TestIndexNamesAndBuckets(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"req", "a.b-c_D9", strings.Repeat("n", MaxIndexNameBytes)} {
		require.NoError(t, checkIndexName(ok), ok)
	}
	for _, bad := range []string{"", "a:b", "é", "a b", strings.Repeat("n", MaxIndexNameBytes+1)} {
		require.ErrorIs(t, checkIndexName(bad), storage.ErrInvalid, bad)
	}
	longest := keyBucket(strings.Repeat("n", MaxIndexNameBytes), strings.Repeat("k", MaxIndexKeyBytes))
	require.LessOrEqual(t, len(longest), storage.MaxKeyBytes, "the longest key bucket is a storage key")
	require.Equal(t, "\x00statefold:done:2026-03-04", doneBucket(t0.In(time.FixedZone("", -10*3600))))
	for _, s := range []string{keyBucket("a", "b"), markBucket("a"), doneBucket(t0)} {
		err := Machine{States: []string{s}}.Validate()
		require.ErrorIs(t, err, storage.ErrInvalid, "a state cannot be an index bucket")
	}
}

func TestCheckFinished(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	days, err := checkFinished("q", day.Add(23*time.Hour), day.Add(25*time.Hour))
	require.NoError(t, err)
	require.Equal(t, []string{doneBucket(day), doneBucket(day.Add(24 * time.Hour))}, days)
	days, err = checkFinished("q", day, day.Add(24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, []string{doneBucket(day)}, days, "until is excluded")
	for name, until := range map[string]time.Time{"empty": day, "reversed": day.Add(-1), "too long": day.Add(MaxFinishedRange + 1)} {
		_, err := checkFinished("q", day, until)
		require.ErrorIs(t, err, storage.ErrInvalid, name)
	}
}

func TestKeyedAndFinishedIn(t *testing.T) {
	t.Parallel()
	found := map[string]storage.Batch{
		"x": {ID: "x", State: "a", Payload: []byte("k1"), CreatedAt: t0.Add(2), UpdatedAt: t0.Add(5)},
		"y": {ID: "y", State: "z", Payload: []byte("k1,k2"), CreatedAt: t0.Add(1), UpdatedAt: t0.Add(3)},
		"w": {ID: "w", State: Abandoned, CreatedAt: t0, UpdatedAt: t0.Add(4)},
		"v": {ID: "v", State: "z", Payload: []byte("k2"), CreatedAt: t0, UpdatedAt: t0.Add(9)},
	}
	ids := []string{"x", "y", "w", "v", "gone"}
	got := keyed(tm, tix, ids, found, "k1")
	require.Equal(t, []string{"y", "x"}, []string{got[0].ID, got[1].ID}, "by (CreatedAt, ID); only rows with the key")
	require.Len(t, got, 2)
	fin := finishedIn(tm, ids, found, t0.Add(3), t0.Add(9))
	require.Len(t, fin, 1, "terminal, UpdatedAt in [since, until): not a tombstone, not until itself")
	require.Equal(t, "y", fin[0].ID)
}

func TestIsMark(t *testing.T) {
	t.Parallel()
	require.True(t, isMark(storage.Member{State: markBucket("req")}))
	require.False(t, isMark(storage.Member{State: keyBucket("req", "k")}))
	require.False(t, isMark(storage.Member{State: doneBucket(t0)}))
}
