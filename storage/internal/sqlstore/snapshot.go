package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/statefold/statefold/storage"
)

var (
	_ storage.Snapshotter = (*Store)(nil)
	_ storage.MemberPager = (*Store)(nil)
)

// snapshotSQL is the one statement of ListSnapshot: every row of the
// buckets (kind 0) left-joined with its batch — all its columns only where
// it is stored in the row's state, so a stale row costs its key and the
// batch's state — then (kind 1) the batches of r.Also. One statement reads
// one snapshot on InnoDB and PostgreSQL.
func (s *Store) snapshotSQL(r storage.SnapshotRequest) (string, []any) {
	from, args := s.snapshotRows(r, nil)
	listed := func(col string) string { return "CASE WHEN b.state = m.state THEN " + col + " END" }
	q := "SELECT 0, m.state, m.batch_id, b.state, b.version, " + listed("b.payload") + ", " +
		listed(s.d.TimeCol("b.created_at")) + ", " + listed(s.d.TimeCol("b.updated_at")) + from
	if len(r.Also) > 0 {
		q += " UNION ALL SELECT 1, b.state, b.id, b.state, b.version, b.payload, " +
			s.d.TimeCol("b.created_at") + ", " + s.d.TimeCol("b.updated_at") + " FROM " + s.t.Batches +
			" b WHERE b.queue = ? AND b.id IN " + s.d.InIDs(len(r.Also))
		args = append(append(args, s.d.KeyArg(r.Queue)), s.d.IDArgs(r.Also)...)
	}
	return s.d.Bind(q), args
}

// snapshotRows is the FROM clause of the bucket rows of r, with its
// arguments appended to args: the whole buckets, or with r.Limit the rows
// of the r.Limit smallest batch ids after r.After, found by reading at
// most r.Limit ids of each bucket in primary-key order.
func (s *Store) snapshotRows(r storage.SnapshotRequest, args []any) (string, []any) {
	in := "(" + Marks(len(r.States)) + ")"
	join := " LEFT JOIN " + s.t.Batches + " b ON b.queue = m.queue AND b.id = m.batch_id"
	if r.Limit == 0 {
		args = append(append(args, s.d.KeyArg(r.Queue)), s.keys(r.States...)...)
		return " FROM " + s.t.Members + " m" + join + " WHERE m.queue = ? AND m.state IN " + in, args
	}
	parts := make([]string, len(r.States))
	for i, st := range r.States {
		parts[i] = "(SELECT batch_id FROM " + s.t.Members + " WHERE queue = ? AND state = ? AND batch_id > ? ORDER BY batch_id LIMIT ?)"
		args = append(args, s.d.KeyArg(r.Queue), s.d.KeyArg(st), s.d.KeyArg(r.After), r.Limit)
	}
	args = append(append(args, r.Limit, s.d.KeyArg(r.Queue)), s.keys(r.States...)...)
	return " FROM (SELECT DISTINCT batch_id FROM (" + strings.Join(parts, " UNION ALL ") +
		") u ORDER BY batch_id LIMIT ?) p JOIN " + s.t.Members + " m ON m.queue = ? AND m.state IN " + in +
		" AND m.batch_id = p.batch_id" + join, args
}

// ListSnapshot implements [storage.Snapshotter] with one statement.
func (s *Store) ListSnapshot(ctx context.Context, r storage.SnapshotRequest) (storage.Snapshot, error) {
	q, args := s.snapshotSQL(r)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return storage.Snapshot{}, CallErr(ctx, s.d, fmt.Sprintf("list snapshot of %q", r.Queue), false, err)
	}
	defer rows.Close()
	var out storage.Snapshot
	for rows.Next() {
		if err := s.scanSnapshot(rows, r.Queue, &out); err != nil {
			return storage.Snapshot{}, CallErr(ctx, s.d, fmt.Sprintf("list snapshot of %q", r.Queue), false, err)
		}
	}
	if err := rows.Err(); err != nil {
		return storage.Snapshot{}, CallErr(ctx, s.d, fmt.Sprintf("list snapshot of %q", r.Queue), false, err)
	}
	return out, nil
}

// scanSnapshot scans one row of snapshotSQL into out.
func (s *Store) scanSnapshot(r Row, queue string, out *storage.Snapshot) error {
	var kind int
	var state string
	var version sql.NullInt64
	b := storage.Batch{Queue: queue}
	dest := append([]any{&kind}, strs(&state, &b.ID, &b.State)...)
	dest = append(append(dest, &version, &b.Payload), s.times(&b.CreatedAt, &b.UpdatedAt)...)
	if err := r.Scan(dest...); err != nil {
		return err
	}
	b.Version = version.Int64
	b.Payload = storage.ClonePayload(b.Payload)
	switch {
	case kind == 1:
		out.Also = append(out.Also, b)
	case b.State == state:
		out.Batches = append(out.Batches, b)
	default:
		// A missing batch reads as the empty state, never a key.
		out.Others = append(out.Others, storage.SnapshotRow{Member: storage.Member{Queue: queue, State: state, BatchID: b.ID}, Found: b.State != "", BatchState: b.State})
	}
	return nil
}

// ListMembersPage implements [storage.MemberPager] as a bounded range
// read of the members primary key.
func (s *Store) ListMembersPage(ctx context.Context, queue, state, after string, limit int) ([]storage.Member, error) {
	scan := func(r Row) (storage.Member, error) {
		m := storage.Member{Queue: queue, State: state}
		err := r.Scan(text{&m.BatchID}, &m.Version, timeDest{s.d, &m.AddedAt})
		return m, err
	}
	q := s.d.Bind("SELECT batch_id, version, " + s.d.TimeCol("added_at") + " FROM " + s.t.Members +
		" WHERE queue = ? AND state = ? AND batch_id > ? ORDER BY batch_id LIMIT ?")
	out, err := list(ctx, s, q, scan, append(s.keys(queue, state, after), limit)...)
	if err != nil {
		return nil, CallErr(ctx, s.d, fmt.Sprintf("list members page %q/%q", queue, state), false, err)
	}
	return out, nil
}
