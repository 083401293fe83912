package batchstate

import (
	"cmp"
	"slices"

	"github.com/statefold/statefold/storage"
)

// sortKey is what List orders a batch by, without its pointers: sorting
// these and then moving each batch once is several times cheaper than
// sorting the batches themselves (a swap of a Batch moves 128 bytes
// through the garbage collector's write barrier).
type sortKey struct {
	sec  int64
	nsec int32
	i    int32 // the batch's index in the slice being sorted
}

// sortBatches orders bs by (CreatedAt, ID), as time.Compare and
// cmp.Compare order them, in place.
func sortBatches(bs []storage.Batch) {
	keys := make([]sortKey, len(bs))
	for i, b := range bs {
		keys[i] = sortKey{sec: b.CreatedAt.Unix(), nsec: int32(b.CreatedAt.Nanosecond()), i: int32(i)}
	}
	slices.SortFunc(keys, func(x, y sortKey) int {
		return cmp.Or(cmp.Compare(x.sec, y.sec), cmp.Compare(x.nsec, y.nsec), cmp.Compare(bs[x.i].ID, bs[y.i].ID))
	})
	// Apply the permutation cycle by cycle: position p receives the batch
	// at keys[p].i; each batch moves once.
	for start := range keys {
		if keys[start].i < 0 {
			continue
		}
		held := bs[start]
		p := start
		for {
			from := int(keys[p].i)
			keys[p].i = -1
			if from == start {
				bs[p] = held
				break
			}
			bs[p] = bs[from]
			p = from
		}
	}
}
