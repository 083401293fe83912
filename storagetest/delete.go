package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/explore"
)

// deletable is one entity the Delete area deletes: calls on the row id of
// a store, each returning the row's version where it has one.
type deletable struct {
	create func(ctx context.Context, s storage.Store, id string) (int64, error)
	update func(ctx context.Context, s storage.Store, id string, v int64) (int64, error)
	get    func(ctx context.Context, s storage.Store, id string) (int64, error)
	del    func(ctx context.Context, s storage.Store, id string, v int64) error
}

// deletables returns the batch, apply and operation rows of one queue and
// one apply, fresh for each call.
func deletables() map[string]deletable {
	q, a := UniqueID("q"), UniqueID("apply")
	return map[string]deletable{
		"Batch": {
			create: func(ctx context.Context, s storage.Store, id string) (int64, error) {
				b, err := s.CreateBatch(ctx, newBatch(q, id))
				return b.Version, err
			},
			update: func(ctx context.Context, s storage.Store, id string, v int64) (int64, error) {
				b := newBatch(q, id)
				b.State = "running"
				got, err := s.UpdateBatch(ctx, b, v, "queued")
				return got.Version, err
			},
			get: func(ctx context.Context, s storage.Store, id string) (int64, error) {
				b, err := s.GetBatch(ctx, q, id)
				return b.Version, err
			},
			del: func(ctx context.Context, s storage.Store, id string, v int64) error {
				return s.DeleteBatch(ctx, q, id, v)
			},
		},
		"Apply": {
			create: func(ctx context.Context, s storage.Store, id string) (int64, error) {
				got, err := s.CreateApply(ctx, newApply(a+id))
				return got.Version, err
			},
			update: func(ctx context.Context, s storage.Store, id string, v int64) (int64, error) {
				got, err := s.UpdateApply(ctx, newApply(a+id), v)
				return got.Version, err
			},
			get: func(ctx context.Context, s storage.Store, id string) (int64, error) {
				got, err := s.GetApply(ctx, a+id)
				return got.Version, err
			},
			del: func(ctx context.Context, s storage.Store, id string, v int64) error {
				return s.DeleteApply(ctx, a+id, v)
			},
		},
		"Operation": {
			create: func(ctx context.Context, s storage.Store, id string) (int64, error) {
				got, err := s.CreateOperation(ctx, newOperation(a, id, 1))
				return got.Version, err
			},
			update: func(ctx context.Context, s storage.Store, id string, v int64) (int64, error) {
				got, err := s.UpdateOperation(ctx, newOperation(a, id, 1), v)
				return got.Version, err
			},
			get: func(ctx context.Context, s storage.Store, id string) (int64, error) {
				got, err := s.GetOperation(ctx, a, id)
				return got.Version, err
			},
			del: func(ctx context.Context, s storage.Store, id string, v int64) error {
				return s.DeleteOperation(ctx, a, id, v)
			},
		},
	}
}

func runDelete(t *testing.T, newStore func(t *testing.T) storage.Store, rounds int) {
	cases := map[string]func(t *testing.T, ctx context.Context, s storage.Store){}
	for name := range deletables() {
		cases[name] = func(t *testing.T, ctx context.Context, s storage.Store) {
			deleteAtVersion(t, ctx, s, deletables()[name])
		}
		cases["Race"+name] = func(t *testing.T, ctx context.Context, s storage.Store) {
			for r := range rounds {
				racingDeleters(t, ctx, s, deletables()[name], r)
				deleteAgainstUpdate(t, ctx, s, deletables()[name], r)
			}
		}
	}
	cases["KeepsIndexRows"] = deleteKeepsOtherRows
	explore.Parallel(t, newStore, cases)
}

// deleteAtVersion: a stale or future version is exactly ErrConflict and
// deletes nothing, the read version deletes, a missing row is ErrNotFound,
// a version below 1 is ErrInvalid, and a create after the delete starts
// again at Version 1 (the store keeps no history; a caller that must
// refuse a deleted id keeps a row of its own).
func deleteAtVersion(t *testing.T, ctx context.Context, s storage.Store, e deletable) {
	_, err := e.create(ctx, s, "r")
	require.NoError(t, err)
	v, err := e.update(ctx, s, "r", 1)
	require.NoError(t, err)
	for _, stale := range []int64{v - 1, v + 1} {
		err := e.del(ctx, s, "r", stale)
		require.ErrorIs(t, err, storage.ErrConflict, "delete at version %d of a row at %d", stale, v)
		require.NotErrorIs(t, err, storage.ErrNotFound)
		require.NotErrorIs(t, err, storage.ErrAmbiguous)
		got, err := e.get(ctx, s, "r")
		require.NoError(t, err, "a lost delete deletes nothing")
		require.Equal(t, v, got, "a lost delete changes nothing")
	}
	require.ErrorIs(t, e.del(ctx, s, "r", 0), storage.ErrInvalid)
	require.NoError(t, e.del(ctx, s, "r", v), "delete at the stored version")
	_, err = e.get(ctx, s, "r")
	require.ErrorIs(t, err, storage.ErrNotFound, "a deleted row is gone")
	err = e.del(ctx, s, "r", v)
	require.ErrorIs(t, err, storage.ErrNotFound, "deleting a deleted row")
	require.NotErrorIs(t, err, storage.ErrConflict)
	require.ErrorIs(t, e.del(ctx, s, "never", 1), storage.ErrNotFound)
	again, err := e.create(ctx, s, "r")
	require.NoError(t, err, "the store keeps no tombstone")
	require.Equal(t, int64(1), again)
}

// racingDeleters: several deleters at the read version, exactly one wins;
// every other is ErrNotFound.
func racingDeleters(t *testing.T, ctx context.Context, s storage.Store, e deletable, round int) {
	id := fmt.Sprintf("d%d", round)
	v, err := e.create(ctx, s, id)
	require.NoError(t, err)
	errs := together(4+round%3, func(int) error { return e.del(ctx, s, id, v) })
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, storage.ErrNotFound, "a deleter that lost the race")
	}
	require.Equal(t, 1, won, "racing deleters: exactly one wins")
	_, err = e.get(ctx, s, id)
	require.ErrorIs(t, err, storage.ErrNotFound)
}

// deleteAgainstUpdate: a delete and an update at the same read version;
// exactly one wins, and the row is what the winner left: gone (the update
// is ErrNotFound) or at the next version (the delete is ErrConflict).
func deleteAgainstUpdate(t *testing.T, ctx context.Context, s storage.Store, e deletable, round int) {
	id := fmt.Sprintf("u%d", round)
	v, err := e.create(ctx, s, id)
	require.NoError(t, err)
	errs := together(2, func(i int) error {
		if i == 0 {
			return e.del(ctx, s, id, v)
		}
		_, err := e.update(ctx, s, id, v)
		return err
	})
	got, gerr := e.get(ctx, s, id)
	switch {
	case errs[0] == nil:
		require.ErrorIs(t, errs[1], storage.ErrNotFound, "the update after the delete won")
		require.ErrorIs(t, gerr, storage.ErrNotFound, "the delete won: the row is gone")
	case errs[1] == nil:
		require.ErrorIs(t, errs[0], storage.ErrConflict, "the delete after the update won")
		require.NoError(t, gerr)
		require.Equal(t, v+1, got, "the update won: the row is at the next version")
	default:
		t.Fatalf("delete vs update: neither won: %v, %v", errs[0], errs[1])
	}
}

// together runs n calls at once and returns their errors.
func together(n int, call func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = call(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// deleteKeepsOtherRows: DeleteBatch leaves the batch's member rows, and
// DeleteApply the apply's operations (the callers remove them in their
// own order).
func deleteKeepsOtherRows(t *testing.T, ctx context.Context, s storage.Store) {
	q, a := UniqueID("q"), UniqueID("apply")
	b, err := s.CreateBatch(ctx, newBatch(q, "b"))
	require.NoError(t, err)
	require.NoError(t, s.AddMember(ctx, storage.Member{Queue: q, State: "queued", BatchID: "b", Version: 1}))
	require.NoError(t, s.DeleteBatch(ctx, q, "b", b.Version))
	ms, err := s.ListMembers(ctx, q, "queued")
	require.NoError(t, err)
	require.Len(t, ms, 1, "DeleteBatch leaves the member rows")
	ap, err := s.CreateApply(ctx, newApply(a))
	require.NoError(t, err)
	_, err = s.CreateOperation(ctx, newOperation(a, "op", 1))
	require.NoError(t, err)
	require.NoError(t, s.DeleteApply(ctx, a, ap.Version))
	ops, err := s.ListOperations(ctx, a)
	require.NoError(t, err)
	require.Len(t, ops, 1, "DeleteApply leaves the operations")
	if _, err := s.GetApply(ctx, a); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetApply after DeleteApply: %v, want ErrNotFound", err)
	}
}
