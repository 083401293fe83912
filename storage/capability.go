package storage

import (
	"context"
	"errors"
)

// The optional capabilities below let a backend answer a reader's question
// in fewer round trips, or in memory bounded by a page. A store need not
// offer them: a caller that finds one missing, or that gets an error
// matching [errors.ErrUnsupported] from it (a wrapper whose inner store
// lacks it), uses the [Store] methods instead, with the same answers.
// [Checked] forwards both, checking their input first.

// Snapshotter is an optional capability of a store: the rows of some
// buckets of a queue joined with their batches, read at one instant.
type Snapshotter interface {
	// ListSnapshot reads, in one consistent snapshot of the store (one
	// instant: one SQL statement on InnoDB or PostgreSQL), the rows of
	// the buckets (r.Queue, s) for every s in r.States with their
	// batches, and the batches of r.Queue named by r.Also. With r.Limit
	// > 0 it reads only the rows whose batch id is among the r.Limit
	// smallest ids greater than r.After that the buckets hold (ids
	// compared byte for byte). See [Snapshot] for the answer.
	ListSnapshot(ctx context.Context, r SnapshotRequest) (Snapshot, error)
}

// SnapshotRequest is the question of [Snapshotter.ListSnapshot].
type SnapshotRequest struct {
	// Queue is the queue read.
	Queue string
	// States are the buckets read: at least one, no repeats.
	States []string
	// Also are batch ids read besides (a lease row, say): no repeats.
	Also []string
	// OthersIn, if not nil, is a hint: the reader needs of
	// [Snapshot.Others] only the rows whose batch is stored in one of
	// these states (List removes the rows of final batches), and a store
	// may leave the others out. Every row whose batch is stored in one of
	// them is reported all the same.
	OthersIn []string
	// After, with Limit > 0, reads only batch ids greater than After
	// ("" reads from the first).
	After string
	// Limit > 0 bounds the rows read to those of Limit batch ids; 0
	// reads every row.
	Limit int
	// AnyState, with one bucket in States, puts every row's batch that
	// exists in [Snapshot.Batches] whatever state it is stored in: the
	// bucket is not a state but, say, the rows of a derived key
	// (batchstate's Lookup); only rows of missing batches are Others.
	AnyState bool
}

// Snapshot is the answer of [Snapshotter.ListSnapshot], as stored at one
// instant.
type Snapshot struct {
	// Batches are the batches stored in the state of one of their rows
	// read: each once, in any order.
	Batches []Batch
	// Others are the rows read whose batch is missing or stored in
	// another state than the row's, each with what its batch was.
	Others []SnapshotRow
	// Also are the batches of SnapshotRequest.Also that exist, each once.
	Also []Batch
}

// SnapshotRow is a row of a [Snapshot] whose batch is not stored in the
// row's state.
type SnapshotRow struct {
	// Member is the row: its Queue, State and BatchID (a store may leave
	// Version and AddedAt zero, unread).
	Member Member
	// Found reports that the row's batch exists.
	Found bool
	// BatchState is the state the row's batch is stored in ("" if it
	// does not exist).
	BatchState string
}

// MemberPager is an optional capability of a store: a bucket read one
// page at a time.
type MemberPager interface {
	// ListMembersPage returns the rows of the bucket (queue, state) whose
	// batch id is greater than after (byte for byte; "" reads from the
	// first), ordered by batch id, at most limit (>= 1) of them, read
	// after write.
	ListMembersPage(ctx context.Context, queue, state, after string, limit int) ([]Member, error)
}

// unsupported is the answer of a capability the driver lacks.
func unsupported(what string) error {
	return errors.Join(errors.New("storage: the store does not offer "+what), errors.ErrUnsupported)
}

// ValidateSnapshotRequest checks the input of a ListSnapshot call.
func ValidateSnapshotRequest(r SnapshotRequest) error {
	if err := ValidateKey("queue", r.Queue); err != nil {
		return err
	}
	if len(r.States) == 0 {
		return Invalid("States", "no state to read")
	}
	if r.AnyState && len(r.States) != 1 {
		return Invalid("AnyState", "reads one bucket, not %d", len(r.States))
	}
	if err := first(ValidateIDs("States", r.States), ValidateIDs("Also", r.Also), ValidateIDs("OthersIn", r.OthersIn),
		noRepeats("States", r.States), noRepeats("Also", r.Also), noRepeats("OthersIn", r.OthersIn)); err != nil {
		return err
	}
	return validatePage(r.After, r.Limit)
}

// validatePage checks a page's cursor and limit (0: none).
func validatePage(after string, limit int) error {
	if after != "" {
		if err := ValidateKey("After", after); err != nil {
			return err
		}
	}
	if limit < 0 {
		return Invalid("Limit", "negative limit %d", limit)
	}
	return nil
}

// noRepeats rejects a repeated element of keys.
func noRepeats(field string, keys []string) error {
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			return Invalid(field, "%q given twice", k)
		}
		seen[k] = true
	}
	return nil
}

func (c checked) ListSnapshot(ctx context.Context, r SnapshotRequest) (Snapshot, error) {
	s, ok := c.d.(Snapshotter)
	if !ok {
		return Snapshot{}, unsupported("ListSnapshot")
	}
	if err := ValidateSnapshotRequest(r); err != nil {
		return Snapshot{}, err
	}
	return s.ListSnapshot(ctx, r)
}

func (c checked) ListMembersPage(ctx context.Context, queue, state, after string, limit int) ([]Member, error) {
	p, ok := c.d.(MemberPager)
	if !ok {
		return nil, unsupported("ListMembersPage")
	}
	if err := first(ValidateKeys("queue", queue, "state", state), validatePage(after, limit)); err != nil {
		return nil, err
	}
	if limit == 0 {
		return nil, Invalid("limit", "a page of no rows")
	}
	return p.ListMembersPage(ctx, queue, state, after, limit)
}
