package batchstate

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

func TestDecideRow(t *testing.T) {
	t.Parallel()
	row := storage.Member{BatchID: "x", Version: 5}
	batch := func(state string, version int64) storage.Batch {
		return storage.Batch{ID: "x", State: state, Version: version}
	}
	for _, c := range []struct {
		name      string
		b         storage.Batch
		exists    bool
		pastGrace bool
		want      rowStep
	}{
		{"missing batch within the grace: a create in flight", storage.Batch{}, false, false, rowStep{action: keepRow}},
		{"missing batch past the grace: fence the create off", storage.Batch{}, false, true, rowStep{action: abandonThenRemove, maxVersion: math.MaxInt64}},
		{"terminal batch", batch("z", 1), true, false, rowStep{action: removeRow, maxVersion: math.MaxInt64}},
		{"tombstone", batch(Abandoned, 1), true, false, rowStep{action: removeRow, maxVersion: math.MaxInt64}},
		{"the live row", batch("a", 9), true, true, rowStep{action: keepRow}},
		{"the live row, even behind its batch", batch("a", 3), true, true, rowStep{action: keepRow}},
		{"stale: the batch moved on past the row", batch("b", 6), true, false, rowStep{action: removeLeased, maxVersion: 6}},
		{"stale: the batch is at the row's version", batch("b", 5), true, false, rowStep{action: removeLeased, maxVersion: 5}},
		{"ahead of its batch within the grace: a transition in flight", batch("b", 4), true, false, rowStep{action: keepRow}},
		{"ahead of its batch past the grace: fence the transition off", batch("b", 4), true, true, rowStep{action: fenceThenRemove, maxVersion: 5}},
	} {
		require.Equal(t, c.want, decideRow(tm, "a", row, c.b, c.exists, c.pastGrace), c.name)
	}
}

func TestUnresolved(t *testing.T) {
	t.Parallel()
	rows := [][]storage.Member{
		{{BatchID: "m1"}, {BatchID: "x"}},
		{{BatchID: "m2"}, {BatchID: "m1"}},
	}
	found := map[string]storage.Batch{"x": {}}
	require.Equal(t, []string{"m1", "m2"}, unresolved(rows, found), "once each, in scan order")
	require.Nil(t, unresolved(rows[:1][:0], found), "nil when every batch was found")
	require.Nil(t, unresolved([][]storage.Member{{{BatchID: "x"}}}, found))
}
