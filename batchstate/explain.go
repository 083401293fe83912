package batchstate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/statefold/statefold/storage"
)

// RowReason says why an index row of a batch is there, and what becomes
// of it.
type RowReason string

// The reasons of [IndexRow].
const (
	// RowLive: the row the batch needs — of its state, of a key it has,
	// or of the day it finished.
	RowLive RowReason = "live"
	// RowLeftByMove: a state row behind its batch, which moved on; a move
	// leaves the row of the state it left for Reconcile, which removes it.
	RowLeftByMove RowReason = "left_by_move"
	// RowMoveInFlight: a row ahead of its batch (a higher version), added
	// by a write whose batch write has not landed: still in flight, lost
	// to another writer, or cut short by a crash between the two writes.
	// Reconcile keeps it until the grace has passed.
	RowMoveInFlight RowReason = "move_in_flight"
	// RowMoveStalled: RowMoveInFlight past the grace: the next Reconcile
	// fences the write off (rewrites the batch unchanged) and removes it.
	RowMoveStalled RowReason = "move_stalled"
	// RowCreateInFlight: the batch does not exist: a Create in flight, or
	// one that crashed before its batch write. Kept until the grace.
	RowCreateInFlight RowReason = "create_in_flight"
	// RowCreateStalled: RowCreateInFlight past the grace: the next
	// Reconcile writes an Abandoned tombstone under the id and removes it.
	RowCreateStalled RowReason = "create_stalled"
	// RowFinal: the batch is terminal (or Abandoned): List and Reconcile
	// remove its state rows.
	RowFinal RowReason = "final"
	// RowKeyDropped: a key row of a key the batch no longer has, its
	// write over: the writer had not removed it yet (or crashed first);
	// its key is marked, so Reconcile removes it.
	RowKeyDropped RowReason = "key_dropped"
)

// IndexRow is one index row of a batch, and why it is there.
type IndexRow struct {
	// State is the state of a state row; empty for the other rows.
	State string
	// Index and Key name the key of a key row ([WithIndex]).
	Index, Key string
	// Day is the UTC day (YYYY-MM-DD) of a finished row ([WithFinishedIndex]).
	Day string
	// Row is the row as stored.
	Row storage.Member
	// Reason says why the row is there.
	Reason RowReason
	// Stale reports that no reader needs the row: every reason but RowLive.
	Stale bool
	// Decided is when the grace of a row in flight passes and Reconcile
	// decides it; zero for the other rows.
	Decided time.Time
}

// BatchExplanation says where a batch is listed and which of its index
// rows are stale, and why.
type BatchExplanation struct {
	// Queue and BatchID name the batch.
	Queue, BatchID string
	// Exists reports that the batch row was found.
	Exists bool
	// Batch is the stored batch when Exists.
	Batch storage.Batch
	// ListedIn is the state whose row lists the batch (List finds it
	// there); empty for a terminal or missing batch.
	ListedIn string
	// Rows are the batch's index rows found: state rows in the machine's
	// order, then key rows, then its finished row.
	Rows []IndexRow
	// Missing names rows the batch needs and lacks ("state S", "key I=K",
	// "finished D"): a write under way that the reads came between, a
	// batch finished before WithFinishedIndex, or a broken promise.
	Missing []string
	// Grace is the orchestrator's grace ([WithDanglingGrace]).
	Grace time.Duration
}

// Explain reads batch id of queue and its index rows and says where the
// batch is listed, which rows are stale and why: every non-terminal state
// bucket is read, then (with [WithIndex]) the buckets of the batch's keys
// and of every marked key, then (with [WithFinishedIndex]) the day it
// finished. It writes nothing, and its reads are not one snapshot. A
// batch that does not exist is explained too (its rows may belong to a
// Create); an id with no batch and no row is storage.ErrNotFound.
func (o *Orchestrator) Explain(ctx context.Context, queue, id string) (BatchExplanation, error) {
	if err := ctx.Err(); err != nil {
		return BatchExplanation{}, err
	}
	if err := checkExplain(queue, id); err != nil {
		return BatchExplanation{}, err
	}
	x := BatchExplanation{Queue: queue, BatchID: id, Grace: o.cfg.grace}
	b, err := o.batches.GetBatch(ctx, queue, id)
	switch {
	case err == nil:
		x.Exists, x.Batch = true, b
	case !errors.Is(err, storage.ErrNotFound):
		return x, fmt.Errorf("batchstate: explain %q: %w", id, err)
	}
	if err := o.explainStates(ctx, &x); err != nil {
		return x, err
	}
	if err := o.explainKeys(ctx, &x); err != nil {
		return x, err
	}
	if err := o.explainFinished(ctx, &x); err != nil {
		return x, err
	}
	if !x.Exists && len(x.Rows) == 0 {
		return x, fmt.Errorf("batchstate: explain %q: no batch and no index row: %w", id, storage.ErrNotFound)
	}
	return x, nil
}

// checkExplain validates Explain's arguments.
func checkExplain(queue, id string) error {
	if err := storage.ValidateKey("queue", queue); err != nil {
		return err
	}
	if err := storage.ValidateKey("id", id); err != nil {
		return err
	}
	if id == LeaseID {
		return storage.Invalid("id", "%q is reserved", id)
	}
	return nil
}

// explainStates files the batch's rows in the state buckets.
func (o *Orchestrator) explainStates(ctx context.Context, x *BatchExplanation) error {
	states := o.m.NonTerminal()
	rows, err := o.bucketRows(ctx, x.Queue, states)
	if err != nil {
		return fmt.Errorf("batchstate: explain %q: %w", x.BatchID, err)
	}
	now := o.now()
	for i, rs := range rows {
		for _, r := range rs {
			if r.BatchID != x.BatchID {
				continue
			}
			past := now.Sub(r.AddedAt) > o.cfg.grace
			step := decideRow(o.m, states[i], r, x.Batch, x.Exists, past)
			reason := stateReason(step.action, x.Exists, x.Batch.State == states[i])
			if reason == RowLive {
				x.ListedIn = states[i]
			}
			x.add(IndexRow{State: states[i], Row: r, Reason: reason}, o.cfg.grace)
		}
	}
	if x.Exists && !o.m.final(x.Batch.State) && x.ListedIn == "" {
		x.Missing = append(x.Missing, "state "+x.Batch.State)
	}
	return nil
}

// stateReason is the reason of a state row Reconcile decides act for.
func stateReason(act rowAction, exists, ofState bool) RowReason {
	switch act {
	case removeRow:
		return RowFinal
	case removeLeased:
		return RowLeftByMove
	case fenceThenRemove:
		return RowMoveStalled
	case abandonThenRemove:
		return RowCreateStalled
	}
	switch {
	case !exists:
		return RowCreateInFlight
	case ofState:
		return RowLive
	}
	return RowMoveInFlight
}

// add files row r, with the time its grace passes when it is in flight.
func (x *BatchExplanation) add(r IndexRow, grace time.Duration) {
	r.Stale = r.Reason != RowLive
	if r.Reason == RowMoveInFlight || r.Reason == RowCreateInFlight {
		r.Decided = r.Row.AddedAt.Add(grace)
	}
	x.Rows = append(x.Rows, r)
}

// explainKeys files the batch's key rows: in the buckets of its keys and
// of every marked key of each index.
func (o *Orchestrator) explainKeys(ctx context.Context, x *BatchExplanation) error {
	for _, ix := range o.cfg.indexes {
		keys := []string{}
		if ks, err := deriveKeys(o.m, []index{ix}, x.Batch); x.Exists && err == nil {
			keys = ks[ix.name]
		}
		marks, err := o.members.ListMembers(ctx, x.Queue, markBucket(ix.name))
		if err != nil {
			return fmt.Errorf("batchstate: explain %q: list marks of %q: %w", x.BatchID, ix.name, err)
		}
		read := slices.Clone(keys)
		for _, mk := range marks {
			if !slices.Contains(read, mk.BatchID) {
				read = append(read, mk.BatchID)
			}
		}
		for _, k := range read {
			if err := o.explainKey(ctx, x, ix.name, k, slices.Contains(keys, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

// explainKey files the batch's row of key k in index name, which the
// batch has (hasKey) or not.
func (o *Orchestrator) explainKey(ctx context.Context, x *BatchExplanation, name, k string, hasKey bool) error {
	rows, err := o.members.ListMembers(ctx, x.Queue, keyBucket(name, k))
	if err != nil {
		return fmt.Errorf("batchstate: explain %q: list key %q of %q: %w", x.BatchID, k, name, err)
	}
	i := slices.IndexFunc(rows, func(r storage.Member) bool { return r.BatchID == x.BatchID })
	if i < 0 {
		if hasKey {
			x.Missing = append(x.Missing, "key "+name+"="+k)
		}
		return nil
	}
	r := rows[i]
	act := decideKeyRow(r, x.Batch, x.Exists, hasKey, o.now().Sub(r.AddedAt) > o.cfg.grace)
	x.add(IndexRow{Index: name, Key: k, Row: r, Reason: keyReason(act, x.Exists)}, o.cfg.grace)
	return nil
}

// keyReason is the reason of a key row Reconcile decides act for.
func keyReason(act keyAction, exists bool) RowReason {
	switch act {
	case keyLive:
		return RowLive
	case keyRemove:
		return RowKeyDropped
	case keyFence:
		return RowMoveStalled
	case keyAbandon:
		return RowCreateStalled
	}
	if !exists {
		return RowCreateInFlight
	}
	return RowMoveInFlight
}

// explainFinished files the row of the day a finished batch finished.
func (o *Orchestrator) explainFinished(ctx context.Context, x *BatchExplanation) error {
	if !o.cfg.finished || !x.Exists || !finished(o.m, x.Batch) {
		return nil
	}
	day := doneBucket(x.Batch.UpdatedAt)
	rows, err := o.members.ListMembers(ctx, x.Queue, day)
	if err != nil {
		return fmt.Errorf("batchstate: explain %q: list finished: %w", x.BatchID, err)
	}
	d := strings.TrimPrefix(day, donePrefix)
	if i := slices.IndexFunc(rows, func(r storage.Member) bool { return r.BatchID == x.BatchID }); i >= 0 {
		x.add(IndexRow{Day: d, Row: rows[i], Reason: RowLive}, o.cfg.grace)
	} else {
		x.Missing = append(x.Missing, "finished "+d)
	}
	return nil
}
