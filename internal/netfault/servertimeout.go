package netfault

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

// ServerTimeouts seeds batch q/b (queued, version 1) and its member row
// q/queued/b (version 1) through check, calls block (which makes the
// server keep every statement on those tables waiting, for example behind
// a lock another connection holds, until the returned release), and calls
// every read and write of s once: the server must end each with its own
// timeout, which native tells from other errors. Each error must match
// storage.ErrUnavailable alone (the server rolled the statement back:
// not ambiguous). After release, check must find nothing written.
func ServerTimeouts(t *testing.T, s, check storage.Store, block func() (release func()), native func(error) bool) {
	t.Helper()
	ctx := context.Background()
	b, err := check.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
	require.NoError(t, err)
	require.NoError(t, check.AddMember(ctx, storage.Member{Queue: "q", State: "queued", BatchID: "b", Version: 1}))
	moved := b
	moved.State = "running"
	calls := []struct {
		name string
		call func() error
	}{
		{"GetBatch", func() error { _, err := s.GetBatch(ctx, "q", "b"); return err }},
		{"GetBatches", func() error { _, err := s.GetBatches(ctx, "q", []string{"b", "c"}); return err }},
		{"ListMembers", func() error { _, err := s.ListMembers(ctx, "q", "queued"); return err }},
		{"CreateBatch", func() error {
			_, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "c", State: "queued"})
			return err
		}},
		{"UpdateBatch", func() error { _, err := s.UpdateBatch(ctx, moved, 1, "queued"); return err }},
		{"AddMember", func() error {
			return s.AddMember(ctx, storage.Member{Queue: "q", State: "queued", BatchID: "b", Version: 2})
		}},
		{"RemoveMember", func() error { return s.RemoveMember(ctx, "q", "queued", "b", 1) }},
	}
	release := block()
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			require.Error(t, err)
			require.True(t, native(err), "not the server's timeout: %v", err)
			Unavailable(t, err, "the server timed the statement out and rolled it back")
		})
	}
	release()
	released = true
	got, err := check.GetBatch(ctx, "q", "b")
	require.NoError(t, err)
	require.Equal(t, b, got, "the batch is untouched")
	_, err = check.GetBatch(ctx, "q", "c")
	require.ErrorIs(t, err, storage.ErrNotFound, "the create did not land")
	members, err := check.ListMembers(ctx, "q", "queued")
	require.NoError(t, err)
	require.Len(t, members, 1, "the member row is still there")
	require.Equal(t, int64(1), members[0].Version, "the member row is untouched")
}
