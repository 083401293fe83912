package batchstate

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/statefold/statefold/storage"
)

// sortKey is what List orders a batch by, without its pointers: sorting
// these and then moving each batch once is several times cheaper than
// sorting the batches themselves (a swap of a Batch moves 128 bytes
// through the garbage collector's write barrier).
type sortKey struct {
	k uint64 // CreatedAt in microseconds, its order as unsigned numbers
	i int32  // the batch's index in the slice being sorted
}

// sortScratch holds the keys and the radix buffer of a sortBatches call
// (pointer-free, so a pooled one keeps nothing alive), so that a List
// allocates its answer and not its sort.
var sortScratch = sync.Pool{New: func() any { return new([]sortKey) }}

// sortBatches orders bs by (CreatedAt, ID), as time.Compare and
// cmp.Compare order them, in place. Times in whole microseconds (every
// time a store returns: see storage.NormalizeBatch) are sorted by radix,
// others by comparison.
func sortBatches(bs []storage.Batch) {
	scratch := sortScratch.Get().(*[]sortKey)
	defer sortScratch.Put(scratch)
	if cap(*scratch) < 2*len(bs) {
		*scratch = make([]sortKey, 2*len(bs))
	}
	keys, buf := (*scratch)[:len(bs)], (*scratch)[len(bs):2*len(bs)]
	exact := true
	for i, b := range bs {
		k, ok := microKey(b.CreatedAt)
		exact = exact && ok
		keys[i] = sortKey{k: k, i: int32(i)}
	}
	byID := func(x, y sortKey) int { return cmp.Compare(bs[x.i].ID, bs[y.i].ID) }
	if exact {
		radixSort(keys, buf)
		for lo := 0; lo < len(keys); {
			hi := lo + 1
			for hi < len(keys) && keys[hi].k == keys[lo].k {
				hi++
			}
			if hi-lo > 1 {
				slices.SortFunc(keys[lo:hi], byID)
			}
			lo = hi
		}
	} else {
		slices.SortFunc(keys, func(x, y sortKey) int {
			return cmp.Or(bs[x.i].CreatedAt.Compare(bs[y.i].CreatedAt), byID(x, y))
		})
	}
	permute(bs, keys)
}

// microKey is t as a number of microseconds whose unsigned order is
// t's order; ok is false when t is not a whole number of microseconds.
// Every time.Time whose Unix seconds lie within ±9.2e12 fits, which
// includes the zero time and [storage.MinTime, storage.MaxTime].
func microKey(t time.Time) (uint64, bool) {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	const limit = 9_000_000_000_000 // seconds: limit*1e6 fits in an int64
	if nsec%1000 != 0 || sec > limit || sec < -limit {
		return 0, false
	}
	return uint64(sec*1_000_000+nsec/1000) ^ (1 << 63), true
}

// radixSort sorts keys by k, stably, one byte at a time from the lowest,
// skipping the bytes every key shares; buf (as long as keys) is scratch.
func radixSort(keys, buf []sortKey) {
	if len(keys) < 2 {
		return
	}
	src, dst := keys, buf
	for shift := uint(0); shift < 64; shift += 8 {
		var count [256]int
		for _, x := range src {
			count[byte(x.k>>shift)]++
		}
		if count[byte(src[0].k>>shift)] == len(src) {
			continue // every key has this byte: the pass would change nothing
		}
		pos := 0
		for b, c := range count {
			count[b] = pos
			pos += c
		}
		for _, x := range src {
			b := byte(x.k >> shift)
			dst[count[b]] = x
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// permute moves each batch of bs once so that position p holds the batch
// that was at keys[p].i (keys is used up).
func permute(bs []storage.Batch, keys []sortKey) {
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
