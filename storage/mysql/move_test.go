package mysql

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

// moveCase runs the answers MoveBatch must give — a move, a lost
// compare-and-swap that keeps the row, a newer row that refuses it all,
// a missing batch — on s, and reports how many CALLs the pool ran.
func moveCases(t *testing.T, s *Store, db *sql.DB, queue string) int {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	b, err := s.CreateBatch(ctx, storage.Batch{Queue: queue, ID: "b", State: "queued", CreatedAt: at, UpdatedAt: at})
	require.NoError(t, err)
	calls := sessionStatus(t, db, "Com_call_procedure")

	next := b
	next.State, next.Payload, next.UpdatedAt = "running", []byte("p"), at.Add(time.Second)
	row := storage.Member{Queue: queue, State: "running", BatchID: "b", Version: 2, AddedAt: next.UpdatedAt}
	moved, err := s.MoveBatch(ctx, row, next, 1, "queued")
	require.NoError(t, err)
	next.Version = 2
	require.Equal(t, next, moved)
	got, err := s.GetBatch(ctx, queue, "b")
	require.NoError(t, err)
	require.Equal(t, next, got)

	stale := next
	stale.State, stale.UpdatedAt = "merging", at.Add(2*time.Second)
	_, err = s.MoveBatch(ctx, storage.Member{Queue: queue, State: "merging", BatchID: "b", Version: 2, AddedAt: stale.UpdatedAt}, stale, 1, "queued")
	require.ErrorIs(t, err, storage.ErrConflict, "a lost compare-and-swap")
	members, err := s.ListMembers(ctx, queue, "merging")
	require.NoError(t, err)
	require.Len(t, members, 1, "the row stays written, as after AddMember")

	older := storage.Member{Queue: queue, State: "running", BatchID: "b", Version: 1, AddedAt: at}
	_, err = s.MoveBatch(ctx, older, storage.Batch{Queue: queue, ID: "b", State: "running", UpdatedAt: at}, 2, "running")
	require.ErrorIs(t, err, storage.ErrConflict, "a newer row refuses the move")
	got, err = s.GetBatch(ctx, queue, "b")
	require.NoError(t, err)
	require.Equal(t, next, got, "nothing written")

	_, err = s.MoveBatch(ctx, storage.Member{Queue: queue, State: "running", BatchID: "none", Version: 2}, storage.Batch{Queue: queue, ID: "none", State: "running"}, 1, "queued")
	require.ErrorIs(t, err, storage.ErrNotFound)
	return sessionStatus(t, db, "Com_call_procedure") - calls
}

// MoveBatch is one CALL of the schema's procedure per move that lands;
// with the procedure gone (tables an earlier build migrated) it answers
// the same through AddMember and UpdateBatch, Check asks for Migrate, and
// Migrate brings the procedure back.
func TestMoveBatchCallsTheProcedure(t *testing.T) {
	t.Parallel()
	db := openDB(t, nil)
	db.SetMaxOpenConns(1) // one session: its status counts this test's statements
	f := newFixtureOn(t, db)
	ctx := context.Background()
	require.Equal(t, 4, moveCases(t, f.store, db, "with"), "one CALL per MoveBatch")

	_, err := db.ExecContext(ctx, "DROP PROCEDURE "+f.store.move)
	require.NoError(t, err)
	err = f.store.Check(ctx)
	require.ErrorIs(t, err, storage.ErrSchema)
	require.ErrorContains(t, err, "run Migrate")
	moveCases(t, f.store, db, "without")

	require.NoError(t, Migrate(ctx, db, WithTablePrefix(f.prefix)))
	require.NoError(t, f.store.Check(ctx))
	require.Equal(t, 4, moveCases(t, f.store, db, "again"))
}
