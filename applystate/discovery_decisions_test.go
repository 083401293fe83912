package applystate

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

func TestOpenRow(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 0, 0, 0, time.UTC)
	grace := time.Minute
	row := func(v int64, age time.Duration) storage.Member {
		return storage.Member{Queue: "ns:open:0", State: openBucket, BatchID: "a", Version: v, AddedAt: now.Add(-age)}
	}
	apply := func(s State) *storage.Apply { return &storage.Apply{ID: "a", State: string(s)} }
	for _, tc := range []struct {
		name string
		r    storage.Member
		a    *storage.Apply
		want rowVerdict
	}{
		{"open apply listed", row(createdVersion, time.Hour), apply(Running), rowVerdict{list: true}},
		{"pending apply listed", row(plannedVersion, 0), apply(Pending), rowVerdict{list: true}},
		{"paused apply listed", row(createdVersion, 0), apply(Paused), rowVerdict{list: true}},
		{"terminal apply: row removed", row(createdVersion, 0), apply(Completed), rowVerdict{remove: true, maxVersion: createdVersion}},
		{"stopped apply: row removed", row(plannedVersion, 0), apply(Stopped), rowVerdict{remove: true, maxVersion: plannedVersion}},
		{"missing within the grace: kept, not listed", row(plannedVersion, grace), nil, rowVerdict{}},
		{"missing past the grace: removed at the planned version", row(plannedVersion, grace+time.Microsecond), nil, rowVerdict{remove: true, maxVersion: plannedVersion}},
		{"created row of a deleted apply: removed", row(createdVersion, 0), nil, rowVerdict{remove: true, maxVersion: createdVersion}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, openRow(tc.r, tc.a, now, grace))
		})
	}
}

func TestShards(t *testing.T) {
	seen := map[int]bool{}
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		s := shardOf(id, DefaultShards)
		require.Equal(t, s, shardOf(id, DefaultShards), "a shard is a function of the id")
		require.True(t, s >= 0 && s < DefaultShards)
		seen[s] = true
	}
	require.Greater(t, len(seen), 3, "ids spread over shards")
	require.Equal(t, 0, shardOf("anything", 1))
	require.Equal(t, "ns:open:7", shardQueue("ns", 7))
}

func TestDiscoveryOptions(t *testing.T) {
	var m storage.MembershipStore = nilMembers{}
	for _, tc := range []struct {
		name  string
		opts  []Option
		field string
	}{
		{"nil store", []Option{WithDiscovery(nil, "ns", 0)}, "WithDiscovery"},
		{"negative shards", []Option{WithDiscovery(m, "ns", -1)}, "WithDiscovery"},
		{"too many shards", []Option{WithDiscovery(m, "ns", MaxShards+1)}, "WithDiscovery"},
		{"empty namespace", []Option{WithDiscovery(m, "", 0)}, "WithDiscovery"},
		{"long namespace", []Option{WithDiscovery(m, string(make([]byte, MaxNamespaceBytes+1)), 0)}, "WithDiscovery"},
		{"zero grace", []Option{WithDiscovery(m, "ns", 0), WithDiscoveryGrace(0)}, "WithDiscoveryGrace"},
		{"no concurrency", []Option{WithDiscovery(m, "ns", 0), WithListConcurrency(0)}, "WithListConcurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := configure(tc.opts)
			require.ErrorIs(t, err, storage.ErrInvalid)
			require.ErrorContains(t, err, tc.field)
		})
	}
	c, err := configure([]Option{WithDiscoveryGrace(time.Hour), WithDiscovery(m, "ns", 0)})
	require.NoError(t, err)
	require.Equal(t, DefaultShards, c.discovery.shards)
	require.Equal(t, time.Hour, c.discovery.grace, "the grace applies whatever the order")
}

// nilMembers is a MembershipStore that is never called.
type nilMembers struct{ storage.MembershipStore }

func TestSweepOver(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 0, 0, 0, time.UTC)
	c := sweepConfig{idleAfter: time.Minute, stuckAfter: time.Hour}
	apply := func(s State, created, updated time.Duration) storage.Apply {
		return storage.Apply{ID: "a", State: string(s), CreatedAt: now.Add(-created), UpdatedAt: now.Add(-updated)}
	}
	owned := func(s State, token int64, until time.Duration) storage.Operation {
		return storage.Operation{ApplyID: "a", ID: "x", Deployment: "d", State: string(s), Owner: "o", OwnerToken: token, OwnerUntil: now.Add(until)}
	}
	for _, tc := range []struct {
		name      string
		a         storage.Apply
		ops       []storage.Operation
		reproject bool
		stuck     *Stuck
		orphans   int
	}{
		{"fresh: nothing", apply(Running, 2*time.Hour, time.Second), nil, false, nil, 0},
		{"idle: reprojected", apply(Running, 2*time.Hour, 2*time.Minute), nil, true, nil, 0},
		{"unchanged past the threshold: stuck", apply(Running, 3*time.Hour, 2*time.Hour), nil, true, &Stuck{ApplyID: "a", State: Running, Since: now.Add(-2 * time.Hour)}, 0},
		{"pending past the threshold: stuck", apply(Pending, 2*time.Hour, time.Second), nil, false, &Stuck{ApplyID: "a", State: Pending, Since: now.Add(-2 * time.Hour)}, 0},
		{"live owner", apply(Running, 0, 0), []storage.Operation{owned(Running, 1, time.Minute)}, false, nil, 0},
		{"lapsed owner", apply(Running, 0, 0), []storage.Operation{owned(Running, 1, -time.Second)}, false, nil, 1},
		{"lapsed owner of a pending row", apply(Running, 0, 0), []storage.Operation{owned(Pending, 2, -time.Second)}, false, nil, 1},
		{"released owner", apply(Running, 0, 0), []storage.Operation{{ApplyID: "a", ID: "x", State: "running", OwnerToken: 3}}, false, nil, 1},
		{"lapsed owner of a settled row", apply(Running, 0, 0), []storage.Operation{owned(Completed, 1, -time.Second)}, false, nil, 0},
		{"never acquired", apply(Running, 0, 0), []storage.Operation{owned(Running, 0, -time.Second)}, false, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := sweepOver(tc.a, tc.ops, now, c)
			require.Equal(t, tc.reproject, d.reproject)
			require.Equal(t, tc.stuck, d.stuck)
			require.Len(t, d.orphans, tc.orphans)
			for _, o := range d.orphans {
				require.Equal(t, Orphan{ApplyID: "a", OperationID: "x", Deployment: tc.ops[0].Deployment, Owner: tc.ops[0].Owner,
					Token: tc.ops[0].OwnerToken, Until: tc.ops[0].OwnerUntil}, o)
			}
		})
	}
}

func TestSweepOptions(t *testing.T) {
	for _, tc := range []struct {
		opts  []SweepOption
		field string
	}{
		{[]SweepOption{nil}, "opts"},
		{[]SweepOption{WithIdleAfter(0)}, "WithIdleAfter"},
		{[]SweepOption{WithStuckAfter(-time.Second)}, "WithStuckAfter"},
	} {
		_, err := sweepOptions(tc.opts)
		require.True(t, errors.Is(err, storage.ErrInvalid))
		require.ErrorContains(t, err, tc.field)
	}
	c, err := sweepOptions(nil)
	require.NoError(t, err)
	require.Equal(t, DefaultIdleAfter, c.idleAfter)
	require.Equal(t, DefaultStuckAfter, c.stuckAfter)
}
