package batchstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

func TestOverlap(t *testing.T) {
	t.Parallel()
	absent := leaseView{}
	idle := leaseView{exists: true, version: 3}
	idleLater := leaseView{exists: true, version: 5}
	held := leaseView{exists: true, version: 4, held: true}
	for _, c := range []struct {
		name          string
		before, after leaseView
		want          listResult
	}{
		{"no lease, before and after", absent, absent, listDone},
		{"the same idle lease", idle, idle, listDone},
		{"held before", held, held, listHeld},
		{"taken meanwhile", idle, held, listHeld},
		{"created held meanwhile", absent, held, listHeld},
		{"taken and released meanwhile", idle, idleLater, listChanged},
		{"created and released meanwhile", absent, idle, listChanged},
	} {
		require.Equal(t, c.want, overlap(c.before, c.after), c.name)
	}
}

func TestListed(t *testing.T) {
	t.Parallel()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	found := map[string]storage.Batch{
		"late":  {ID: "late", State: "a", CreatedAt: at(3)},
		"b2":    {ID: "b2", State: "b", CreatedAt: at(1)},
		"b1":    {ID: "b1", State: "a", CreatedAt: at(1)},
		"moved": {ID: "moved", State: "z", CreatedAt: at(0)},
		LeaseID: {ID: LeaseID, State: leaseIdle},
	}
	ids := []string{"late", "missing", "moved", "b2", "b1"}
	got := listed(ids, found, []string{"a", "b"})
	var order []string
	for _, b := range got {
		order = append(order, b.ID)
	}
	require.Equal(t, []string{"b1", "b2", "late"}, order,
		"only batches stored in a requested state, by CreatedAt then ID; missing ids and the lease skipped")
	require.Len(t, listed(ids, found, []string{"b"}), 1, "one batch in b")
}

func TestFinalRows(t *testing.T) {
	t.Parallel()
	states := []string{"a", "b"}
	rows := [][]storage.Member{
		{{BatchID: "done"}, {BatchID: "live"}, {BatchID: "missing"}},
		{{BatchID: "tomb"}, {BatchID: "done"}},
	}
	found := map[string]storage.Batch{
		"done": {State: "z"}, "live": {State: "a"}, "tomb": {State: Abandoned},
	}
	require.Equal(t, []rowRef{{"a", "done"}, {"b", "tomb"}, {"b", "done"}}, finalRows(tm, states, rows, found),
		"every row of a final batch, in every bucket; live and missing batches keep theirs")
	require.Empty(t, finalRows(tm, states, [][]storage.Member{nil, nil}, found))
}

func TestNextBackoff(t *testing.T) {
	t.Parallel()
	require.Equal(t, 2*DefaultListBackoff, nextBackoff(DefaultListBackoff), "doubles")
	require.Equal(t, MaxListBackoff, nextBackoff(MaxListBackoff/2+time.Millisecond), "up to the cap")
	require.Equal(t, MaxListBackoff, nextBackoff(MaxListBackoff), "and stays there")
	d, pauses := DefaultListBackoff, 0
	for ; d < MaxListBackoff; d = nextBackoff(d) {
		pauses++
	}
	require.Equal(t, 6, pauses, "5ms, 10ms, … 160ms, then 250ms")
}

func TestCheckList(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		queue  string
		states []string
		want   []string
		field  string
	}{
		{"repeated states once, in order", "q", []string{"b", "a", "b"}, []string{"b", "a"}, ""},
		{"no state", "q", nil, nil, "states"},
		{"a terminal state", "q", []string{"a", "z"}, nil, "states"},
		{"an unknown state", "q", []string{"nope"}, nil, "states"},
		{"the tombstone state", "q", []string{Abandoned}, nil, "states"},
		{"an empty queue", "", []string{"a"}, nil, "queue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := checkList(tm, c.queue, c.states)
			requireField(t, err, c.field)
			require.Equal(t, c.want, got)
		})
	}
}
