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
	create func(id string) (int64, error)
	update func(id string, v int64) (int64, error)
	get    func(id string) (int64, error)
	del    func(id string, v int64) error
}

// deletableOf is the deletable of one kind of row T, its calls returning
// the row; version points at the row's Version.
func deletableOf[T any](version func(*T) *int64, create func(id string) (T, error), update func(id string, v int64) (T, error),
	get func(id string) (T, error), del func(id string, v int64) error) deletable {
	versionOf := func(row T, err error) (int64, error) { return *version(&row), err }
	return deletable{
		create: func(id string) (int64, error) { return versionOf(create(id)) },
		update: func(id string, v int64) (int64, error) { return versionOf(update(id, v)) },
		get:    func(id string) (int64, error) { return versionOf(get(id)) },
		del:    del,
	}
}

// deletables returns the batch, apply and operation rows of one queue and
// one apply of s, fresh for each call.
func deletables(ctx context.Context, s storage.Store) map[string]deletable {
	q, a := UniqueID("q"), UniqueID("apply")
	return map[string]deletable{
		"Batch": deletableOf(batchVersion,
			func(id string) (storage.Batch, error) { return s.CreateBatch(ctx, newBatch(q, id)) },
			func(id string, v int64) (storage.Batch, error) {
				b := newBatch(q, id)
				b.State = "running"
				return s.UpdateBatch(ctx, b, v, "queued")
			},
			func(id string) (storage.Batch, error) { return s.GetBatch(ctx, q, id) },
			func(id string, v int64) error { return s.DeleteBatch(ctx, q, id, v) }),
		"Apply": deletableOf(applyVersion,
			func(id string) (storage.Apply, error) { return s.CreateApply(ctx, newApply(a+id)) },
			func(id string, v int64) (storage.Apply, error) { return s.UpdateApply(ctx, newApply(a+id), v) },
			func(id string) (storage.Apply, error) { return s.GetApply(ctx, a+id) },
			func(id string, v int64) error { return s.DeleteApply(ctx, a+id, v) }),
		"Operation": deletableOf(operationVersion,
			func(id string) (storage.Operation, error) { return s.CreateOperation(ctx, newOperation(a, id, 1)) },
			func(id string, v int64) (storage.Operation, error) {
				return s.UpdateOperation(ctx, newOperation(a, id, 1), v)
			},
			func(id string) (storage.Operation, error) { return s.GetOperation(ctx, a, id) },
			func(id string, v int64) error { return s.DeleteOperation(ctx, a, id, v) }),
	}
}

func runDelete(t *testing.T, newStore func(t *testing.T) storage.Store, rounds int) {
	cases := map[string]func(t *testing.T, ctx context.Context, s storage.Store){}
	for name := range deletables(context.Background(), nil) { // the names: each case has rows of its own
		cases[name] = func(t *testing.T, ctx context.Context, s storage.Store) {
			deleteAtVersion(t, deletables(ctx, s)[name])
		}
		cases["Race"+name] = func(t *testing.T, ctx context.Context, s storage.Store) {
			for r := range rounds {
				racingDeleters(t, deletables(ctx, s)[name], r)
				deleteAgainstUpdate(t, deletables(ctx, s)[name], r)
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
func deleteAtVersion(t *testing.T, e deletable) {
	_, err := e.create("r")
	require.NoError(t, err)
	v, err := e.update("r", 1)
	require.NoError(t, err)
	for _, stale := range []int64{v - 1, v + 1} {
		err := e.del("r", stale)
		require.ErrorIs(t, err, storage.ErrConflict, "delete at version %d of a row at %d", stale, v)
		require.NotErrorIs(t, err, storage.ErrNotFound)
		require.NotErrorIs(t, err, storage.ErrAmbiguous)
		got, err := e.get("r")
		require.NoError(t, err, "a lost delete deletes nothing")
		require.Equal(t, v, got, "a lost delete changes nothing")
	}
	require.ErrorIs(t, e.del("r", 0), storage.ErrInvalid)
	require.NoError(t, e.del("r", v), "delete at the stored version")
	_, err = e.get("r")
	require.ErrorIs(t, err, storage.ErrNotFound, "a deleted row is gone")
	err = e.del("r", v)
	require.ErrorIs(t, err, storage.ErrNotFound, "deleting a deleted row")
	require.NotErrorIs(t, err, storage.ErrConflict)
	require.ErrorIs(t, e.del("never", 1), storage.ErrNotFound)
	again, err := e.create("r")
	require.NoError(t, err, "the store keeps no tombstone")
	require.Equal(t, int64(1), again)
}

// racingDeleters: several deleters at the read version, exactly one wins;
// every other is ErrNotFound.
func racingDeleters(t *testing.T, e deletable, round int) {
	id := fmt.Sprintf("d%d", round)
	v, err := e.create(id)
	require.NoError(t, err)
	errs := together(4+round%3, func(int) error { return e.del(id, v) })
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, storage.ErrNotFound, "a deleter that lost the race")
	}
	require.Equal(t, 1, won, "racing deleters: exactly one wins")
	_, err = e.get(id)
	require.ErrorIs(t, err, storage.ErrNotFound)
}

// deleteAgainstUpdate: a delete and an update at the same read version;
// exactly one wins, and the row is what the winner left: gone (the update
// is ErrNotFound) or at the next version (the delete is ErrConflict).
func deleteAgainstUpdate(t *testing.T, e deletable, round int) {
	id := fmt.Sprintf("u%d", round)
	v, err := e.create(id)
	require.NoError(t, err)
	errs := together(2, func(i int) error {
		if i == 0 {
			return e.del(id, v)
		}
		_, err := e.update(id, v)
		return err
	})
	got, gerr := e.get(id)
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
