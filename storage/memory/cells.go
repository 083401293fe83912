package memory

import "github.com/statefold/statefold/storage"

// cell holds what the store knows of one (queue, batch id): the batch, if
// one is stored, and how many index rows name it. The rows point at their
// cell, so resolving a row is a pointer away, not a map lookup (a List
// resolves every row of its buckets). A cell stays in the store's map as
// long as it holds a batch or a row names it.
type cell struct {
	batch storage.Batch
	ok    bool // a batch is stored
	rows  int  // the index rows that name this (queue, id)
}

// bucket is the rows of one (queue, state), densely: rows in no order and
// at, each row's index by batch id.
type bucket struct {
	at   map[string]int
	rows []row
}

// len is the number of rows of bk; a missing bucket (nil) has none.
func (bk *bucket) len() int {
	if bk == nil {
		return 0
	}
	return len(bk.rows)
}

// row is one index row and the cell of the batch it names.
type row struct {
	m storage.Member
	c *cell
}

// batch returns the batch (queue, id) and whether one is stored.
func (s *driver) batch(queue, id string) (storage.Batch, bool) {
	c := s.cells[queue][id]
	if c == nil || !c.ok {
		return storage.Batch{}, false
	}
	return c.batch, true
}

// cellFor returns the cell of (queue, id), made if there is none; the
// caller holds the write lock.
func (s *driver) cellFor(queue, id string) *cell {
	q := s.cells[queue]
	if q == nil {
		q = make(map[string]*cell)
		s.cells[queue] = q
	}
	c := q[id]
	if c == nil {
		c = &cell{}
		q[id] = c
	}
	return c
}

// putBatch stores b; the caller holds the write lock.
func (s *driver) putBatch(b storage.Batch) {
	c := s.cellFor(b.Queue, b.ID)
	c.batch, c.ok = b, true
}

// release drops c, the cell of (queue, id), once it holds no batch and
// no row names it; the caller holds the write lock.
func (s *driver) release(queue, id string, c *cell) {
	if c.ok || c.rows > 0 {
		return
	}
	delete(s.cells[queue], id)
	if len(s.cells[queue]) == 0 {
		delete(s.cells, queue)
	}
}

// addRow stores m in its bucket, pointing at its batch's cell, or
// overwrites the row stored there; the caller holds the write lock.
func (s *driver) addRow(m storage.Member) {
	k := bucketKey{m.Queue, m.State}
	bk := s.members[k]
	if bk == nil {
		bk = &bucket{at: make(map[string]int)}
		s.members[k] = bk
	}
	if i, ok := bk.at[m.BatchID]; ok {
		bk.rows[i].m = m
		return
	}
	c := s.cellFor(m.Queue, m.BatchID)
	c.rows++
	bk.at[m.BatchID] = len(bk.rows)
	bk.rows = append(bk.rows, row{m: m, c: c})
}

// removeRow deletes the row of batchID from the bucket k (the last row
// takes its place); the caller holds the write lock.
func (s *driver) removeRow(k bucketKey, bk *bucket, batchID string) {
	i := bk.at[batchID]
	c := bk.rows[i].c
	last := len(bk.rows) - 1
	if i != last {
		bk.rows[i] = bk.rows[last]
		bk.at[bk.rows[i].m.BatchID] = i
	}
	bk.rows[last] = row{}
	bk.rows = bk.rows[:last]
	delete(bk.at, batchID)
	if len(bk.rows) == 0 {
		delete(s.members, k)
	}
	c.rows--
	s.release(k.queue, batchID, c)
}
