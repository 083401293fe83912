package batchstate

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/statefold/statefold/storage"
)

// TestSortBatches checks sortBatches against a plain sort by (CreatedAt,
// ID) on random batches with repeated times and ids, the zero time, times
// before 1970 and the bounds of a store's times, by radix and by
// comparison.
func TestSortBatches(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	micro := []time.Time{{}, base, base.Add(time.Microsecond), base.Add(-time.Hour), base.Add(time.Hour),
		time.Date(1900, 1, 1, 0, 0, 0, 999_999_000, time.UTC), storage.MinTime, storage.MaxTime}
	// A time that is not a whole number of microseconds sorts by comparison.
	other := append(slices.Clone(micro), base.Add(time.Nanosecond))
	for n := range 400 {
		times := micro
		if n%2 == 1 {
			times = other
		}
		bs := make([]storage.Batch, n)
		for i := range bs {
			bs[i] = storage.Batch{Queue: "q", ID: fmt.Sprintf("b%03d", r.IntN(n+1)), CreatedAt: times[r.IntN(len(times))], Version: int64(i)}
		}
		want := slices.Clone(bs)
		slices.SortStableFunc(want, func(a, b storage.Batch) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
		})
		got := slices.Clone(bs)
		sortBatches(got)
		for i := range got {
			if !got[i].CreatedAt.Equal(want[i].CreatedAt) || got[i].ID != want[i].ID {
				t.Fatalf("n=%d: position %d holds %s %v, want %s %v", n, i, got[i].ID, got[i].CreatedAt, want[i].ID, want[i].CreatedAt)
			}
		}
		gotVersions := make([]int64, len(got))
		for i, b := range got {
			gotVersions[i] = b.Version
		}
		slices.Sort(gotVersions)
		for i, v := range gotVersions {
			if v != int64(i) {
				t.Fatalf("n=%d: the sort lost or repeated batch %d", n, i)
			}
		}
	}
}
