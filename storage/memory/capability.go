package memory

import (
	"cmp"
	"context"
	"slices"

	"github.com/statefold/statefold/storage"
)

var (
	_ storage.Snapshotter = (*Store)(nil)
	_ storage.MemberPager = (*Store)(nil)
)

// ListSnapshot implements [storage.Snapshotter] under one read lock (one
// instant of the store), its input checked by [storage.Checked].
func (s *Store) ListSnapshot(ctx context.Context, r storage.SnapshotRequest) (storage.Snapshot, error) {
	return s.checkedStore.(storage.Snapshotter).ListSnapshot(ctx, r)
}

// ListMembersPage implements [storage.MemberPager], its input checked by
// [storage.Checked]. It allocates for the page only, however large the
// bucket.
func (s *Store) ListMembersPage(ctx context.Context, queue, state, after string, limit int) ([]storage.Member, error) {
	return s.checkedStore.(storage.MemberPager).ListMembersPage(ctx, queue, state, after, limit)
}

// ListSnapshot implements [storage.Snapshotter]: every row of the buckets
// is resolved with one map lookup while the read lock is held, so the
// answer is one instant of the store. With r.Limit, only the rows of the
// page's ids (see [smallest]) are read.
func (s *driver) ListSnapshot(ctx context.Context, r storage.SnapshotRequest) (storage.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return storage.Snapshot{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	buckets := make([]map[string]storage.Member, len(r.States))
	rows := 0
	for i, st := range r.States {
		buckets[i] = s.members[bucketKey{r.Queue, st}]
		rows += len(buckets[i])
	}
	var page map[string]struct{}
	if r.Limit > 0 {
		page = smallest(buckets, r.After, r.Limit)
		rows = min(rows, len(page)*len(r.States))
	}
	stored := s.batches[r.Queue]
	// A batch is listed once, so the queue's batches bound the answer as
	// well as the rows do (stale rows are rows too).
	snap := storage.Snapshot{Batches: make([]storage.Batch, 0, min(rows, len(stored)))}
	var payloads arena
	for i, bucket := range buckets {
		for id := range bucket {
			if _, in := page[id]; page != nil && !in {
				continue
			}
			switch b, ok := stored[id]; {
			case ok && b.State == r.States[i]:
				b.Payload = payloads.clone(b.Payload)
				snap.Batches = append(snap.Batches, b)
			case r.OthersIn == nil || ok && slices.Contains(r.OthersIn, b.State):
				snap.Others = append(snap.Others, storage.SnapshotRow{Member: bucket[id], Found: ok, BatchState: b.State})
			}
		}
	}
	for _, id := range r.Also {
		if b, ok := stored[id]; ok {
			snap.Also = append(snap.Also, copyBatch(b))
		}
	}
	return snap, nil
}

// arena hands out copies of payloads from arrays of its own, a few
// kilobytes each (one allocation for many payloads, not one each).
type arena []byte

// arenaChunk is the size of an arena's arrays; a larger payload gets one
// of its own size.
const arenaChunk = 8 << 10

// clone returns a copy of p that shares no byte with p or with another
// copy: capped at its length, so an append by the caller reallocates
// rather than writing into the next one. Empty is nil, as ClonePayload.
func (a *arena) clone(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	if len(*a) < len(p) {
		*a = make([]byte, max(arenaChunk, len(p)))
	}
	n := copy(*a, p)
	out := (*a)[:n:n]
	*a = (*a)[n:]
	return out
}

// ListMembersPage implements [storage.MemberPager].
func (s *driver) ListMembersPage(ctx context.Context, queue, state, after string, limit int) ([]storage.Member, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	bucket := s.members[bucketKey{queue, state}]
	page := smallest([]map[string]storage.Member{bucket}, after, limit)
	out := make([]storage.Member, 0, len(page))
	for id := range page {
		out = append(out, bucket[id])
	}
	slices.SortFunc(out, func(a, b storage.Member) int { return cmp.Compare(a.BatchID, b.BatchID) })
	return out, nil
}

// smallest returns the limit smallest distinct ids greater than after
// (byte for byte) among the keys of buckets. It keeps at most limit ids
// (a max-heap and its set), so its memory is bounded by the page, not by
// the buckets.
func smallest(buckets []map[string]storage.Member, after string, limit int) map[string]struct{} {
	h := make([]string, 0, min(limit, 1024))
	set := make(map[string]struct{}, cap(h))
	for _, bucket := range buckets {
		for id := range bucket {
			if id <= after {
				continue
			}
			if _, dup := set[id]; dup {
				continue
			}
			switch {
			case len(h) < limit:
				set[id] = struct{}{}
				h = heapPush(h, id)
			case id < h[0]:
				delete(set, h[0])
				set[id] = struct{}{}
				h[0] = id
				heapDown(h, 0)
			}
		}
	}
	return set
}

// heapPush adds id to the max-heap h.
func heapPush(h []string, id string) []string {
	h = append(h, id)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if h[parent] >= h[i] {
			break
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
	return h
}

// heapDown restores the max-heap h below i.
func heapDown(h []string, i int) {
	for {
		largest := i
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < len(h) && h[c] > h[largest] {
				largest = c
			}
		}
		if largest == i {
			return
		}
		h[i], h[largest] = h[largest], h[i]
		i = largest
	}
}
