package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/statefold/statefold/storage"
)

// capable is a driver with both optional capabilities; it records what
// reached it. Any Store method reached panics (its Driver is nil).
type capable struct {
	storage.Driver
	req   storage.SnapshotRequest
	pages int
}

func (c *capable) ListSnapshot(_ context.Context, r storage.SnapshotRequest) (storage.Snapshot, error) {
	c.req = r
	return storage.Snapshot{Also: []storage.Batch{{ID: "lease"}}}, nil
}

func (c *capable) ListMembersPage(_ context.Context, queue, state, after string, limit int) ([]storage.Member, error) {
	c.pages++
	return []storage.Member{{Queue: queue, State: state, BatchID: after + "x"}}, nil
}

func TestCheckedForwardsTheCapabilitiesAfterItsChecks(t *testing.T) {
	ctx := context.Background()
	d := &capable{}
	s := storage.Checked(d)
	snap, ok := s.(storage.Snapshotter)
	if !ok {
		t.Fatal("Checked must offer Snapshotter")
	}
	pager, ok := s.(storage.MemberPager)
	if !ok {
		t.Fatal("Checked must offer MemberPager")
	}
	r := storage.SnapshotRequest{Queue: "q", States: []string{"a", "b"}, Also: []string{"lease"}, After: "k", Limit: 5}
	got, err := snap.ListSnapshot(ctx, r)
	if err != nil || len(got.Also) != 1 || d.req.Limit != 5 || d.req.After != "k" {
		t.Fatalf("ListSnapshot forwarded %+v, answered %+v, %v", d.req, got, err)
	}
	for field, bad := range map[string]storage.SnapshotRequest{
		"queue":     {States: []string{"a"}},
		"States":    {Queue: "q"},
		"States[0]": {Queue: "q", States: []string{""}},
		"Also":      {Queue: "q", States: []string{"a"}, Also: []string{"x", "x"}},
		"OthersIn":  {Queue: "q", States: []string{"a"}, OthersIn: []string{"d", "d"}},
		"AnyState":  {Queue: "q", States: []string{"a", "b"}, AnyState: true},
		"After":     {Queue: "q", States: []string{"a"}, After: "\xff"},
		"Limit":     {Queue: "q", States: []string{"a"}, Limit: -1},
	} {
		d.req = storage.SnapshotRequest{}
		_, err := snap.ListSnapshot(ctx, bad)
		var fe *storage.FieldError
		if !errors.As(err, &fe) || fe.Field != field || !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ListSnapshot(%+v): want a FieldError on %s, got %v", bad, field, err)
		}
		if d.req.Queue != "" {
			t.Errorf("ListSnapshot(%+v) reached the driver", bad)
		}
	}
	if ms, err := pager.ListMembersPage(ctx, "q", "s", "a", 2); err != nil || len(ms) != 1 || ms[0].BatchID != "ax" {
		t.Fatalf("ListMembersPage: %v, %v", ms, err)
	}
	for _, limit := range []int{0, -1} {
		if _, err := pager.ListMembersPage(ctx, "q", "s", "", limit); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ListMembersPage limit %d: want ErrInvalid, got %v", limit, err)
		}
	}
	if _, err := pager.ListMembersPage(ctx, "", "s", "", 1); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("ListMembersPage of an empty queue name: want ErrInvalid, got %v", err)
	}
	if d.pages != 1 {
		t.Errorf("bad input reached the driver: %d pages read, want 1", d.pages)
	}
}

func TestCheckedAnswersUnsupportedForADriverWithoutTheCapabilities(t *testing.T) {
	ctx := context.Background()
	s := storage.Checked(&spy{})
	_, err := s.(storage.Snapshotter).ListSnapshot(ctx, storage.SnapshotRequest{Queue: "q", States: []string{"a"}})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ListSnapshot over a driver without it: want errors.ErrUnsupported, got %v", err)
	}
	_, err = s.(storage.MemberPager).ListMembersPage(ctx, "q", "s", "", 1)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ListMembersPage over a driver without it: want errors.ErrUnsupported, got %v", err)
	}
}
