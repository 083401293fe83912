package batchstate

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Describe says in a few words why a row of this reason is there and
// what becomes of it.
func (r RowReason) Describe() string {
	switch r {
	case RowLive:
		return "live"
	case RowLeftByMove:
		return "left by a move out of it (the batch's version is past the row's): Reconcile removes it"
	case RowMoveInFlight:
		return "ahead of the batch: a write in flight, lost, or cut short between its index and batch writes; Reconcile decides it after the grace"
	case RowMoveStalled:
		return "ahead of the batch, past the grace: Reconcile fences the write off and removes it"
	case RowCreateInFlight:
		return "no batch: a Create in flight, or cut short before its batch write; Reconcile decides it after the grace"
	case RowCreateStalled:
		return "no batch, past the grace: Reconcile writes an Abandoned tombstone and removes it"
	case RowFinal:
		return "the batch is final: List and Reconcile remove it"
	case RowKeyDropped:
		return "a key the batch no longer has: its key is marked, Reconcile removes it"
	}
	return string(r)
}

// Bucket names the row's bucket: its state, "key I=K" or "finished D".
func (r IndexRow) Bucket() string {
	switch {
	case r.Index != "":
		return "key " + r.Index + "=" + r.Key
	case r.Day != "":
		return "finished " + r.Day
	}
	return "state " + r.State
}

// String says where the batch is listed and why each of its rows is
// there, a line each.
func (x BatchExplanation) String() string {
	var b strings.Builder
	switch {
	case x.Exists:
		fmt.Fprintf(&b, "batch %s of queue %s is %s (version %d)\n", x.BatchID, x.Queue, x.Batch.State, x.Batch.Version)
	default:
		fmt.Fprintf(&b, "batch %s of queue %s does not exist\n", x.BatchID, x.Queue)
	}
	switch {
	case x.ListedIn != "":
		fmt.Fprintf(&b, "  listed in: %s\n", x.ListedIn)
	case x.Exists && !slices.ContainsFunc(x.Missing, func(m string) bool { return strings.HasPrefix(m, "state ") }):
		b.WriteString("  listed in: no state (terminal states are not indexed)\n")
	}
	for _, r := range x.Rows {
		fmt.Fprintf(&b, "  %s (version %d, added %s): %s", r.Bucket(), r.Row.Version, r.Row.AddedAt.Format(time.RFC3339), r.Reason.Describe())
		if !r.Decided.IsZero() {
			fmt.Fprintf(&b, " at %s", r.Decided.Format(time.RFC3339))
		}
		b.WriteString("\n")
	}
	for _, m := range x.Missing {
		fmt.Fprintf(&b, "  missing: %s\n", m)
	}
	return b.String()
}
