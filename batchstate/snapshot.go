package batchstate

import (
	"context"
	"fmt"
	"slices"

	"github.com/statefold/statefold/storage"
)

// snapshotter returns the one-snapshot read of the stores an Orchestrator
// is given, if they are one store that offers [storage.Snapshotter]; nil
// otherwise (two stores cannot be read in one snapshot).
func snapshotter(batches storage.BatchStore, members storage.MembershipStore) storage.Snapshotter {
	s, ok := batches.(storage.Snapshotter)
	if !ok || !sameStore(batches, members) {
		return nil
	}
	return s
}

// sameStore reports whether a and b are one value: false, not a panic,
// for values Go cannot compare.
func sameStore(a, b any) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// listSnapshot is one attempt of List through the store's one-snapshot
// read: the rows of the buckets, their batches and the lease row, as
// stored at one instant. Whenever a batch is stored in a non-terminal
// state its row exists (invariant I), so at that instant every batch in
// a requested state is found through the row of its own state, and the
// batch row says what is listed. The lease is read in the same snapshot
// and kept to the rule List has on every store: held, List waits and
// reads again. (It cannot have changed hands between two reads: there is
// one.)
func (o *Orchestrator) listSnapshot(ctx context.Context, queue string, states []string) (listRead, listResult, error) {
	snap, err := o.snap.ListSnapshot(ctx, storage.SnapshotRequest{
		Queue: queue, States: states, Also: []string{LeaseID}, OthersIn: finalStates(o.m),
	})
	if err != nil {
		return listRead{}, 0, fmt.Errorf("batchstate: list %q: %w", queue, err)
	}
	lease, ok := findBatch(snap.Also, queue, LeaseID)
	if viewLease(lease, ok, o.now(), o.cfg.lease).held {
		return listRead{}, listHeld, nil
	}
	return listRead{out: snapshotListed(snap, queue, states), final: snapshotFinal(o.m, snap)}, listDone, nil
}

// findBatch returns the batch (queue, id) among bs.
func findBatch(bs []storage.Batch, queue, id string) (storage.Batch, bool) {
	for _, b := range bs {
		if b.Queue == queue && b.ID == id {
			return b, true
		}
	}
	return storage.Batch{}, false
}

// snapshotListed returns the batches of snap stored in one of states,
// each once, ordered by (CreatedAt, ID).
func snapshotListed(snap storage.Snapshot, queue string, states []string) []storage.Batch {
	// Filtered in place (the snapshot is the caller's), a batch moved only
	// once one before it was dropped.
	out := snap.Batches[:0]
	for i := range snap.Batches {
		b := &snap.Batches[i]
		if b.Queue == queue && b.ID != LeaseID && slices.Contains(states, b.State) {
			if len(out) != i {
				out = append(out, *b)
			} else {
				out = out[:i+1]
			}
		}
	}
	sortBatches(out)
	return slices.CompactFunc(out, func(a, b storage.Batch) bool { return a.ID == b.ID })
}

// snapshotFinal returns the rows of snap whose batch was found final.
func snapshotFinal(m Machine, snap storage.Snapshot) []rowRef {
	var out []rowRef
	for _, r := range snap.Others {
		if r.Found && m.final(r.BatchState) {
			out = append(out, rowRef{r.Member.State, r.Member.BatchID})
		}
	}
	return out
}

// finalStates returns the states of m a batch never leaves, and
// [Abandoned], each once.
func finalStates(m Machine) []string {
	out := append(slices.Clone(m.Terminal), Abandoned)
	slices.Sort(out)
	return slices.Compact(out)
}
