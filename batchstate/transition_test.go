package batchstate

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

func TestPlanTransition(t *testing.T) {
	t.Parallel()
	b := storage.Batch{Queue: "q", ID: "x", State: "a", Version: 4, Payload: []byte("p"), CreatedAt: t0.Add(-1)}
	for _, c := range []struct {
		name       string
		to         string
		wantRow    *storage.Member
		removeLeft bool
	}{
		{"into a live state: the new state's row first, one version ahead; the left row stays",
			"b", &storage.Member{Queue: "q", State: "b", BatchID: "x", Version: 5, AddedAt: t0}, false},
		{"into the same live state: its row again, one version ahead",
			"a", &storage.Member{Queue: "q", State: "a", BatchID: "x", Version: 5, AddedAt: t0}, false},
		{"into a terminal state: no row; the left row goes after the write",
			"z", nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := planTransition(tm, b, c.to, t0)
			require.Equal(t, c.wantRow, p.row)
			require.Equal(t, c.removeLeft, p.removeLeft)
			want := b
			want.State, want.UpdatedAt = c.to, t0
			require.Equal(t, want, p.next, "the batch is written as given, with the new state and time")
		})
	}
}

func TestRemoveAfterLost(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		stored, to string
		want       bool
	}{
		{"z", "b", true},        // the batch is final: the row added for b is no one's
		{Abandoned, "b", true},  // a tombstone is final too
		{"a", "b", false},       // the batch is live: the row may be needed
		{"b", "b", false},       // a newer move into b: its row is the live row
		{"z", "z", false},       // a move into a final state added no row
		{Abandoned, "z", false}, // likewise
	} {
		require.Equal(t, c.want, removeAfterLost(tm, storage.Batch{State: c.stored}, c.to), "stored %q, to %q", c.stored, c.to)
	}
}

func TestCheckTransition(t *testing.T) {
	t.Parallel()
	strict := Machine{States: []string{"a", "b", "z"}, Terminal: []string{"z"}, Transitions: map[string][]string{"a": {"z"}}}
	live := storage.Batch{Queue: "q", ID: "x", State: "a", Version: 1}
	for _, c := range []struct {
		name  string
		m     Machine
		b     storage.Batch
		to    string
		field string // "" if accepted
	}{
		{"allowed", strict, live, "z", ""},
		{"any move without Transitions", tm, live, "b", ""},
		{"not in Transitions", strict, live, "b", "to"},
		{"unknown target", tm, live, "nope", "to"},
		{"unknown source", tm, storage.Batch{Queue: "q", ID: "x", State: "nope", Version: 1}, "a", "batch.State"},
		{"out of a terminal state", tm, storage.Batch{Queue: "q", ID: "x", State: "z", Version: 1}, "a", "batch.State"},
		{"version 0", tm, storage.Batch{Queue: "q", ID: "x", State: "a"}, "b", "batch.Version"},
		{"the lease's id", tm, storage.Batch{Queue: "q", ID: LeaseID, State: "a", Version: 1}, "b", "batch.ID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkTransition(c.m, c.b, c.to)
			requireField(t, err, c.field)
		})
	}
}
