package memory_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// seedSnapshot stores, in queue q: batches b00..b29 spread over three
// states with a row in their own state, a stale row for every third batch
// in the next state, a row whose batch is missing, a final batch with a
// row, and the extra batch "lease".
func seedSnapshot(t *testing.T, s *memory.Store) {
	t.Helper()
	ctx := context.Background()
	states := []string{"a", "b", "c"}
	add := func(state, id string, v int64) {
		if err := s.AddMember(ctx, storage.Member{Queue: "q", State: state, BatchID: id, Version: v}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 30 {
		id, st := fmt.Sprintf("b%02d", i), states[i%3]
		if _, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: id, State: st, Payload: []byte(id)}); err != nil {
			t.Fatal(err)
		}
		add(st, id, 1)
		if i%3 == 0 {
			add(states[(i+1)%3], id, 1)
		}
	}
	add("a", "missing", 1)
	for _, b := range []storage.Batch{{Queue: "q", ID: "final", State: "done"}, {Queue: "q", ID: "lease", State: "idle"}} {
		if _, err := s.CreateBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	add("b", "final", 1)
}

// ids returns the ids of bs, sorted.
func ids(bs []storage.Batch) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.ID
	}
	slices.Sort(out)
	return out
}

// TestListSnapshotAgreesWithReads checks the memory store's ListSnapshot
// against the rows and batches read one by one, with and without the
// OthersIn hint, and that the payloads it copies into shared arrays are
// the caller's own, one apart from the next (the contract suite's
// Snapshot area checks its pages).
func TestListSnapshotAgreesWithReads(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	seedSnapshot(t, s)
	states := []string{"a", "b", "c"}
	want := map[string]bool{}      // listed: the batch is in the state of one of its rows
	wantOthers := map[string]int{} // id -> rows of other states
	for _, st := range states {
		rows, err := s.ListMembers(ctx, "q", st)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			b, err := s.GetBatch(ctx, "q", r.BatchID)
			if err == nil && b.State == st {
				want[b.ID] = true
			} else {
				wantOthers[r.BatchID]++
			}
		}
	}
	snap, err := s.ListSnapshot(ctx, storage.SnapshotRequest{Queue: "q", States: states, Also: []string{"lease", "nobody"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(snap.Batches); len(got) != len(want) || len(got) != 30 {
		t.Fatalf("snapshot listed %v, want the 30 batches %v", got, want)
	}
	for _, b := range snap.Batches {
		if !want[b.ID] || string(b.Payload) != b.ID || b.Version != 1 {
			t.Fatalf("snapshot listed %+v", b)
		}
	}
	if len(snap.Others) != 12 { // 10 stale rows, the missing batch's, the final batch's
		t.Fatalf("snapshot has %d other rows, want 12: %+v", len(snap.Others), snap.Others)
	}
	for _, r := range snap.Others {
		if wantOthers[r.Member.BatchID] == 0 || (r.Member.BatchID == "missing") == r.Found {
			t.Fatalf("other row %+v", r)
		}
	}
	if got := ids(snap.Also); !slices.Equal(got, []string{"lease"}) {
		t.Fatalf("Also read %v, want [lease]", got)
	}
	// The hint: only rows whose batch is done are needed.
	hinted, err := s.ListSnapshot(ctx, storage.SnapshotRequest{Queue: "q", States: states, OthersIn: []string{"done"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(hinted.Others) != 1 || hinted.Others[0].Member.BatchID != "final" || hinted.Others[0].BatchState != "done" {
		t.Fatalf("with OthersIn [done] the other rows are %+v, want the final batch's only", hinted.Others)
	}
	// The payloads are the caller's: writing into one changes neither the
	// store nor its neighbours, appending to one does not either.
	b0 := &snap.Batches[0]
	b0.Payload[0] = 'X'
	_ = append(b0.Payload, 'Y', 'Y', 'Y')
	stored, err := s.GetBatch(ctx, "q", b0.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(stored.Payload) != b0.ID {
		t.Fatalf("writing into a snapshot's payload changed the store: %q", stored.Payload)
	}
	for _, b := range snap.Batches[1:] {
		if string(b.Payload) != b.ID {
			t.Fatalf("writing into one payload changed another: %q for %q", b.Payload, b.ID)
		}
	}
}

// TestListMembersPage checks the memory store's pages of a bucket: in id
// order, at most the limit, after the cursor, together the whole bucket.
func TestListMembersPage(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	seedSnapshot(t, s)
	whole, err := s.ListMembers(ctx, "q", "a")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range whole {
		want = append(want, m.BatchID)
	}
	slices.Sort(want)
	var got []string
	after := ""
	for {
		page, err := s.ListMembersPage(ctx, "q", "a", after, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 4 {
			t.Fatalf("a page of %d rows, limit 4", len(page))
		}
		for _, m := range page {
			if m.BatchID <= after || m.Queue != "q" || m.State != "a" {
				t.Fatalf("page after %q holds %+v", after, m)
			}
			got = append(got, m.BatchID)
			after = m.BatchID
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the pages hold %v, want %v", got, want)
	}
	if _, err := s.ListMembersPage(ctx, "q", "a", "", 0); err == nil {
		t.Fatal("a page of no rows must be refused")
	}
}
