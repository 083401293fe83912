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
// is resolved (through its cell: no lookup) while the read lock is held,
// so the answer is one instant of the store. With r.Limit, only the rows of the
// page's ids (see [smallest]) are read.
func (s *driver) ListSnapshot(ctx context.Context, r storage.SnapshotRequest) (storage.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return storage.Snapshot{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	buckets := make([]*bucket, len(r.States))
	rows := 0
	for i, st := range r.States {
		buckets[i] = s.members[bucketKey{r.Queue, st}]
		rows += buckets[i].len()
	}
	var page map[string]struct{}
	if r.Limit > 0 {
		page = smallest(buckets, r.After, r.Limit)
		rows = min(rows, len(page)*len(r.States))
	}
	// A batch is listed once, so the queue's cells bound the answer as
	// well as the rows do (stale rows are rows too).
	snap := storage.Snapshot{Batches: make([]storage.Batch, 0, min(rows, len(s.cells[r.Queue])))}
	var payloads arena
	for i, bk := range buckets {
		for j := range bk.len() {
			rw := &bk.rows[j]
			if _, in := page[rw.m.BatchID]; page != nil && !in {
				continue
			}
			switch c := rw.c; {
			case c.ok && (r.AnyState || c.batch.State == r.States[i]):
				b := c.batch
				b.Payload = payloads.clone(b.Payload)
				snap.Batches = append(snap.Batches, b)
			case r.OthersIn == nil || c.ok && slices.Contains(r.OthersIn, c.batch.State):
				snap.Others = append(snap.Others, storage.SnapshotRow{Member: rw.m, Found: c.ok, BatchState: c.batch.State})
			}
		}
	}
	for _, id := range r.Also {
		if b, ok := s.batch(r.Queue, id); ok {
			snap.Also = append(snap.Also, copyBatch(b))
		}
	}
	return snap, nil
}

// arena hands out copies of payloads from arrays of its own (one
// allocation for many payloads, not one each): the first of 256 bytes,
// each next one twice as large, up to 8 KiB.
type arena struct {
	free []byte
	next int
}

// clone returns a copy of p that shares no byte with p or with another
// copy: capped at its length, so an append by the caller reallocates
// rather than writing into the next one. Empty is nil, as ClonePayload.
func (a *arena) clone(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	if len(a.free) < len(p) {
		a.next = min(max(2*a.next, 256), 8<<10)
		a.free = make([]byte, max(a.next, len(p)))
	}
	n := copy(a.free, p)
	out := a.free[:n:n]
	a.free = a.free[n:]
	return out
}

// ListMembersPage implements [storage.MemberPager].
func (s *driver) ListMembersPage(ctx context.Context, queue, state, after string, limit int) ([]storage.Member, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	bk := s.members[bucketKey{queue, state}]
	page := smallest([]*bucket{bk}, after, limit)
	out := make([]storage.Member, 0, len(page))
	for id := range page {
		out = append(out, bk.rows[bk.at[id]].m)
	}
	slices.SortFunc(out, func(a, b storage.Member) int { return cmp.Compare(a.BatchID, b.BatchID) })
	return out, nil
}

// smallest returns the limit smallest distinct ids greater than after
// (byte for byte) among the keys of buckets. It keeps at most limit ids
// (a max-heap and its set), so its memory is bounded by the page, not by
// the buckets.
func smallest(buckets []*bucket, after string, limit int) map[string]struct{} {
	h := make([]string, 0, min(limit, 1024))
	set := make(map[string]struct{}, cap(h))
	for _, bk := range buckets {
		for j := range bk.len() {
			id := bk.rows[j].m.BatchID
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
