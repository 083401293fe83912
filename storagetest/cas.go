package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/explore"
)

// raceRounds is how many times each entity's race runs: a store that
// checks the version and then writes, with any gap between the two, lets
// several of the racers win in one of the rounds.
const raceRounds = 8

func runCAS(t *testing.T, newStore func(t *testing.T) storage.Store, raceRounds int) {
	explore.Parallel(t, newStore, map[string]func(t *testing.T, ctx context.Context, s storage.Store){
		"Batch": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			b, err := s.CreateBatch(ctx, newBatch(q, "b"))
			require.NoError(t, err)
			next := b
			next.State, next.Payload, next.CreatedAt, next.UpdatedAt = "running", nil, ts(5), ts(6)
			next.Version = 77 // ignored
			got, err := s.UpdateBatch(ctx, next, 1, b.State)
			require.NoError(t, err)
			next.Version = 2
			require.Equal(t, next, got, "every non-key field written, Version = expected+1")
			read := requireBatchStored(t, ctx, s, got)

			stale := read
			stale.State = "stale"
			_, err = s.UpdateBatch(ctx, stale, 1, read.State)
			requireConflict(t, err)
			_, err = s.UpdateBatch(ctx, stale, 3, read.State)
			require.ErrorIs(t, err, storage.ErrConflict, "a future version is a conflict too")
			read, err = s.GetBatch(ctx, q, "b")
			require.NoError(t, err)
			require.Equal(t, got, read, "a lost CAS changes nothing")

			missing := newBatch(q, "missing")
			_, err = s.UpdateBatch(ctx, missing, 1, missing.State)
			requireNotFound(t, err)
			_, err = s.GetBatch(ctx, q, "missing")
			require.ErrorIs(t, err, storage.ErrNotFound, "an update never creates")

			same, err := s.UpdateBatch(ctx, read, read.Version, read.State)
			require.NoError(t, err, "an update that writes identical values still succeeds")
			require.Equal(t, read.Version+1, same.Version)
		},
		"BatchState": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			b, err := s.CreateBatch(ctx, newBatch(q, "b"))
			require.NoError(t, err)
			next := b
			next.State, next.Payload, next.UpdatedAt = "running", []byte("running"), ts(7)
			moved, err := s.UpdateBatch(ctx, next, b.Version, b.State)
			require.NoError(t, err, "the stored version and state")

			// The right version but another state: the state before the
			// move, and near misses of the stored one that a collation or a
			// prefix match would take for it.
			stale := moved
			stale.State, stale.Payload, stale.UpdatedAt = "done", []byte("stale"), ts(8)
			for _, st := range []string{b.State, "done", "Running", "RUNNING", "running ", " running", "runnin", "runningx", "running\x00"} {
				_, err = s.UpdateBatch(ctx, stale, moved.Version, st)
				requireConflict(t, err, "expected state %q, stored %q", st, moved.State)
				require.NotErrorIs(t, err, storage.ErrInvalid)
			}
			_, err = s.UpdateBatch(ctx, stale, moved.Version+1, moved.State)
			require.ErrorIs(t, err, storage.ErrConflict, "the right state but another version")
			read, err := s.GetBatch(ctx, q, "b")
			require.NoError(t, err)
			require.Equal(t, moved, read, "a lost CAS changes nothing: version, state, payload")

			_, err = s.UpdateBatch(ctx, newBatch(q, "missing"), 1, "running")
			requireNotFound(t, err, "a missing row is ErrNotFound whatever the state")

			done, err := s.UpdateBatch(ctx, stale, moved.Version, moved.State)
			require.NoError(t, err, "the stored version and state win")
			stale.Version = moved.Version + 1
			require.Equal(t, stale, done)
			read, err = s.GetBatch(ctx, q, "b")
			require.NoError(t, err)
			require.Equal(t, done, read)
			_, err = s.UpdateBatch(ctx, done, done.Version, done.State)
			require.NoError(t, err, "an update may keep the state")
		},
		"Apply": func(t *testing.T, ctx context.Context, s storage.Store) {
			id := UniqueID("apply")
			a, err := s.CreateApply(ctx, newApply(id))
			require.NoError(t, err)
			next := a
			next.State, next.ErrorMessage, next.StopRequested, next.PauseReleased = "running", "msg", true, true
			next.StartedAt, next.CompletedAt, next.Payload, next.UpdatedAt = ts(3), ts(4), []byte{0, 1}, ts(5)
			got := requireUpdated(t, ctx, s.UpdateApply, next, 1, applyVersion)
			back := got
			back.StopRequested, back.PauseReleased, back.ErrorMessage = false, false, ""
			back.StartedAt, back.CompletedAt, back.Payload = time.Time{}, time.Time{}, nil
			got2 := requireUpdated(t, ctx, s.UpdateApply, back, 2, applyVersion, "fields are cleared too")
			_, err = s.UpdateApply(ctx, back, 2)
			requireConflict(t, err)
			_, err = s.UpdateApply(ctx, newApply(UniqueID("missing")), 1)
			requireNotFound(t, err)
			read, err := s.GetApply(ctx, id)
			require.NoError(t, err)
			require.Equal(t, got2, read)
		},
		"Operation": func(t *testing.T, ctx context.Context, s storage.Store) {
			a := UniqueID("apply")
			op, err := s.CreateOperation(ctx, newOperation(a, "op", 1))
			require.NoError(t, err)
			next := op
			next.Seq, next.Deployment, next.Group, next.Finalizer, next.Projected = 9, "dep", "grp", true, true
			next.ProjectedVersion = 2
			next.State, next.OnFailure, next.ErrorMessage = "failed", "continue", "boom"
			next.StartedAt, next.CompletedAt, next.Payload, next.UpdatedAt = ts(3), ts(4), []byte("x"), ts(5)
			got := requireUpdated(t, ctx, s.UpdateOperation, next, 1, operationVersion)
			back := got
			back.Group, back.Finalizer, back.OnFailure, back.ErrorMessage, back.Deployment = "", false, "", "", ""
			back.Projected, back.ProjectedVersion = false, 0
			back.StartedAt, back.CompletedAt, back.Payload = time.Time{}, time.Time{}, nil
			got2 := requireUpdated(t, ctx, s.UpdateOperation, back, 2, operationVersion, "fields are cleared too")
			_, err = s.UpdateOperation(ctx, next, 1)
			requireConflict(t, err)
			_, err = s.UpdateOperation(ctx, newOperation(a, "missing", 1), 1)
			requireNotFound(t, err)
			_, err = s.GetOperation(ctx, a, "missing")
			require.ErrorIs(t, err, storage.ErrNotFound, "an update never creates")
			read, err := s.GetOperation(ctx, a, "op")
			require.NoError(t, err)
			require.Equal(t, got2, read)
		},
		"RaceBatch": func(t *testing.T, ctx context.Context, s storage.Store) {
			q := UniqueID("q")
			for r := range raceRounds {
				id := fmt.Sprintf("b%d", r)
				b, err := s.CreateBatch(ctx, newBatch(q, id))
				require.NoError(t, err)
				raceRow(t, r, b, batchState, batchVersion,
					func(next storage.Batch) (storage.Batch, error) { return s.UpdateBatch(ctx, next, b.Version, b.State) },
					func() (storage.Batch, error) { return s.GetBatch(ctx, q, id) })
			}
		},
		"RaceApply": func(t *testing.T, ctx context.Context, s storage.Store) {
			for r := range raceRounds {
				id := UniqueID("apply")
				a, err := s.CreateApply(ctx, newApply(id))
				require.NoError(t, err)
				raceRow(t, r, a, applyState, applyVersion,
					func(next storage.Apply) (storage.Apply, error) { return s.UpdateApply(ctx, next, a.Version) },
					func() (storage.Apply, error) { return s.GetApply(ctx, id) })
			}
		},
		"RaceOperation": func(t *testing.T, ctx context.Context, s storage.Store) {
			a := UniqueID("apply")
			for r := range raceRounds {
				id := fmt.Sprintf("op%d", r)
				op, err := s.CreateOperation(ctx, newOperation(a, id, 1))
				require.NoError(t, err)
				raceRow(t, r, op, operationState, operationVersion,
					func(next storage.Operation) (storage.Operation, error) {
						return s.UpdateOperation(ctx, next, op.Version)
					},
					func() (storage.Operation, error) { return s.GetOperation(ctx, a, id) })
			}
		},
	})
}

// requireConflict asserts that err is a lost compare-and-swap:
// storage.ErrConflict, not storage.ErrNotFound.
func requireConflict(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	require.ErrorIs(t, err, storage.ErrConflict, msgAndArgs...)
	require.NotErrorIs(t, err, storage.ErrNotFound, msgAndArgs...)
}

// requireNotFound asserts that err is a missing row: storage.ErrNotFound,
// not storage.ErrConflict.
func requireNotFound(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	require.ErrorIs(t, err, storage.ErrNotFound, msgAndArgs...)
	require.NotErrorIs(t, err, storage.ErrConflict, msgAndArgs...)
}

// requireUpdated calls update with row and the expected version and
// requires the row it returns to be row at the version after it.
func requireUpdated[T any](t *testing.T, ctx context.Context, update func(context.Context, T, int64) (T, error),
	row T, expected int64, version func(*T) *int64, msgAndArgs ...any,
) T {
	t.Helper()
	got, err := update(ctx, row, expected)
	require.NoError(t, err, msgAndArgs...)
	*version(&row) = expected + 1
	require.Equal(t, row, got, msgAndArgs...)
	return got
}

// raceRow runs [explore.Race] over row: writer i sets the row's state to
// w<i> and writes it with write; read reads the row back.
func raceRow[T any](t *testing.T, round int, row T, state func(*T) *string, version func(*T) *int64,
	write func(T) (T, error), read func() (T, error),
) {
	t.Helper()
	explore.Race(t, round, func(i int) (string, error) {
		next := row
		*state(&next) = fmt.Sprintf("w%02d", i)
		got, err := write(next)
		return *state(&got), err
	}, func() (string, int64) {
		got, err := read()
		require.NoError(t, err)
		return *state(&got), *version(&got)
	})
}

func batchState(b *storage.Batch) *string           { return &b.State }
func batchVersion(b *storage.Batch) *int64          { return &b.Version }
func applyState(a *storage.Apply) *string           { return &a.State }
func applyVersion(a *storage.Apply) *int64          { return &a.Version }
func operationState(op *storage.Operation) *string  { return &op.State }
func operationVersion(op *storage.Operation) *int64 { return &op.Version }

// requireBatchStored reads the batch of want's queue and id and requires
// it to be want.
func requireBatchStored(t *testing.T, ctx context.Context, s storage.Store, want storage.Batch, msgAndArgs ...any) storage.Batch {
	t.Helper()
	read, err := s.GetBatch(ctx, want.Queue, want.ID)
	require.NoError(t, err, msgAndArgs...)
	require.Equal(t, want, read, msgAndArgs...)
	return read
}
