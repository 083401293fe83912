package batchstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

// tm is the machine of the decision tables: a, b live, z terminal.
var tm = Machine{States: []string{"a", "b", "z"}, Terminal: []string{"z"}}

// t0 is the decision tables' clock reading.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func TestPlanCreate(t *testing.T) {
	t.Parallel()
	old := t0.Add(-time.Hour)
	for _, c := range []struct {
		name    string
		b       storage.Batch
		wantRow *storage.Member
	}{
		{"a live state gets its row first, at version 1",
			storage.Batch{Queue: "q", ID: "x", State: "a", Version: 7, CreatedAt: old, UpdatedAt: old, Payload: []byte("p")},
			&storage.Member{Queue: "q", State: "a", BatchID: "x", Version: 1, AddedAt: t0}},
		{"a terminal state gets no row",
			storage.Batch{Queue: "q", ID: "x", State: "z"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := planCreate(tm, c.b, t0)
			require.Equal(t, c.wantRow, p.row)
			want := c.b
			want.Version, want.CreatedAt, want.UpdatedAt = 0, t0, t0
			require.Equal(t, want, p.batch, "the store sets the version; the clock both times; the rest is written as given")
		})
	}
}

func TestCheckCreate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		b     storage.Batch
		field string // "" if accepted
	}{
		{"live state", storage.Batch{Queue: "q", ID: "x", State: "a"}, ""},
		{"terminal state", storage.Batch{Queue: "q", ID: "x", State: "z"}, ""},
		{"unknown state", storage.Batch{Queue: "q", ID: "x", State: "nope"}, "batch.State"},
		{"the tombstone state", storage.Batch{Queue: "q", ID: "x", State: Abandoned}, "batch.State"},
		{"the lease's id", storage.Batch{Queue: "q", ID: LeaseID, State: "a"}, "batch.ID"},
		{"empty queue", storage.Batch{ID: "x", State: "a"}, "batch.Queue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkCreate(tm, c.b)
			requireField(t, err, c.field)
		})
	}
}
