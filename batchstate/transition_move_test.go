package batchstate_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/internal/hook/hooktest"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// moving is a memory store that offers storage.Mover the way a store
// without a one-statement form answers it: AddMember, then UpdateBatch
// if the row was written. It counts the moves and the plain writes.
type moving struct {
	storage.Store
	moves, adds, updates int
}

func (s *moving) MoveBatch(ctx context.Context, m storage.Member, b storage.Batch, version int64, state string) (storage.Batch, error) {
	s.moves++
	if err := s.Store.AddMember(ctx, m); err != nil {
		return storage.Batch{}, err
	}
	return s.Store.UpdateBatch(ctx, b, version, state)
}

func (s *moving) AddMember(ctx context.Context, m storage.Member) error {
	s.adds++
	return s.Store.AddMember(ctx, m)
}

func (s *moving) UpdateBatch(ctx context.Context, b storage.Batch, version int64, state string) (storage.Batch, error) {
	s.updates++
	return s.Store.UpdateBatch(ctx, b, version, state)
}

func TestTransitionMovesInOneCallWhenTheStoreOffersIt(t *testing.T) {
	ctx := context.Background()
	var h hooktest.Heard
	s := &moving{Store: memory.New()}
	o, err := batchstate.New(s, s, hookMachine, batchstate.WithHooks(h.Hooks()))
	require.NoError(t, err)
	b, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "b1", State: "queued"})
	require.NoError(t, err)
	s.adds, s.updates = 0, 0

	running, err := o.Transition(ctx, b, "running")
	require.NoError(t, err)
	require.Equal(t, 1, s.moves, "a move into a live state is one MoveBatch")
	require.Zero(t, s.adds+s.updates, "and nothing else")
	require.Equal(t, int64(2), running.Version)
	rows, err := s.Store.ListMembers(ctx, "q", "running")
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, int64(2), rows[0].Version, "the row of the new state at the batch's new version")

	// A stale caller loses, as after UpdateBatch: the error says what is
	// stored, and is heard as a conflict of MoveBatch.
	_, err = o.Transition(ctx, b, "running")
	require.ErrorIs(t, err, storage.ErrConflict)
	require.ErrorContains(t, err, `stored: "running" at version 2`)
	require.Contains(t, h.Lines, `  conflict MoveBatch 1 attempt 0 in Transition`)

	// A move into a final state writes no row: the two-step protocol.
	_, err = o.Transition(ctx, running, "done")
	require.NoError(t, err)
	require.Equal(t, 2, s.moves, "the refused move was the second MoveBatch; the final move none")
	require.Equal(t, 1, s.updates)
}

func TestTransitionMovesInStepsWithIndexes(t *testing.T) {
	ctx := context.Background()
	s := &moving{Store: memory.New()}
	o, err := batchstate.New(s, s, hookMachine, batchstate.WithIndex("id", func(b storage.Batch) []string { return []string{b.ID} }))
	require.NoError(t, err)
	b, err := o.Create(ctx, storage.Batch{Queue: "q", ID: "b1", State: "queued"})
	require.NoError(t, err)
	_, err = o.Transition(ctx, b, "running")
	require.NoError(t, err)
	require.Zero(t, s.moves, "with indexes a transition writes more than the one statement holds")
}
