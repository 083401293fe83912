package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

// explain runs EXPLAIN on query and returns one map of column → value per
// plan row.
func explain(t *testing.T, db *sql.DB, query string, args ...any) []map[string]string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "EXPLAIN "+query, args...)
	require.NoError(t, err, query)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		row := make(map[string]string, len(cols))
		for i, c := range cols {
			row[strings.ToLower(c)] = vals[i].String
		}
		out = append(out, row)
	}
	require.NoError(t, rows.Err())
	return out
}

// Every statement the store runs is a primary-key point or prefix access:
// EXPLAIN names the PRIMARY key and never a full scan.
func TestEveryAccessUsesThePrimaryKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	// Enough rows in other partitions that a scan would never be chosen.
	for q := range 20 {
		queue := fmt.Sprintf("q%02d", q)
		for i := range 20 {
			id := fmt.Sprintf("b%02d", i)
			_, err := f.store.CreateBatch(ctx, storage.Batch{Queue: queue, ID: id, State: "s", CreatedAt: now})
			require.NoError(t, err)
			require.NoError(t, f.store.AddMember(ctx, storage.Member{Queue: queue, State: "s", BatchID: id, Version: 1}))
		}
		apply := fmt.Sprintf("a%02d", q)
		_, err := f.store.CreateApply(ctx, storage.Apply{ID: apply, State: "pending"})
		require.NoError(t, err)
		for i := range 20 {
			_, err := f.store.CreateOperation(ctx, storage.Operation{ApplyID: apply, ID: fmt.Sprintf("o%02d", i), State: "pending"})
			require.NoError(t, err)
		}
	}
	_, err := f.db.ExecContext(ctx, "ANALYZE TABLE "+f.table("batches")+", "+f.table("members")+", "+f.table("applies")+", "+f.table("operations"))
	require.NoError(t, err)

	// A full default-size chunk, mostly of ids that do not exist.
	fullChunk := []any{"q03"}
	for i := range DefaultChunkSize {
		fullChunk = append(fullChunk, fmt.Sprintf("b%02d", i))
	}

	q := f.store.d.Q
	for name, c := range map[string]struct {
		query string
		args  []any
	}{
		"GetBatch":        {q.GetBatch, []any{"q03", "b04"}},
		"GetBatches":      {q.GetBatches(3), []any{"q03", "b01", "b02", "b09"}},
		"GetBatches full": {q.GetBatches(DefaultChunkSize), fullChunk},
		"batch read-back": {q.BatchVersion, []any{"q03", "b04"}},
		"UpdateBatch":     {q.UpdateBatch, []any{"s", []byte{}, now, now, "q03", "b04", 1, "s"}},
		"ListMembers":     {q.ListMembers, []any{"q03", "s"}},
		"RemoveMember":    {q.RemoveMember, []any{"q03", "s", "b04", 1}},
		"GetApply":        {q.GetApply, []any{"a03"}},
		"apply read-back": {q.ApplyVersion, []any{"a03"}},
		"UpdateApply":     {q.UpdateApply, []any{"s", "", false, false, nil, nil, []byte{}, now, now, "a03", 1}},
		"GetOperation":    {q.GetOperation, []any{"a03", "o04"}},
		"ListOperations":  {q.ListOperations, []any{"a03"}},
		"op read-back":    {q.OperationVersion, []any{"a03", "o04"}},
		"UpdateOperation": {q.UpdateOperation, []any{0, "", "", false, "s", "", "", nil, nil, []byte{}, now, now, false, "", 0, nil, nil, 0, "a03", "o04", 1}},
	} {
		plan := explain(t, f.db, c.query, c.args...)
		require.Len(t, plan, 1, name)
		p := plan[0]
		require.Equal(t, "PRIMARY", p["key"], "%s: %v", name, p)
		require.Contains(t, []string{"const", "eq_ref", "ref", "range"}, p["type"], "%s: %v", name, p)
		require.NotEqual(t, "ALL", p["type"])
	}
}

func TestDuplicateCreateKeepsTheNativeError(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "s"})
	require.NoError(t, err)
	_, err = f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "s"})
	require.ErrorIs(t, err, storage.ErrAlreadyExists)
	var native *gomysql.MySQLError
	require.True(t, errors.As(err, &native))
	require.Equal(t, uint16(1062), native.Number)
}

func TestMigrateIsIdempotentAndMatchesSchema(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // migrated once
	ctx := context.Background()
	require.NoError(t, Migrate(ctx, f.db, WithTablePrefix(f.prefix)))
	ddl, err := Schema(WithTablePrefix(f.prefix))
	require.NoError(t, err)
	for _, table := range []string{"batches", "members", "applies", "operations"} {
		require.Contains(t, ddl, "CREATE TABLE IF NOT EXISTS "+f.table(table))
		var name, create string
		require.NoError(t, f.db.QueryRowContext(ctx, "SHOW CREATE TABLE "+f.table(table)).Scan(&name, &create))
		require.Contains(t, strings.ToLower(create), "varbinary(255)", "keys compare byte for byte")
		require.NotContains(t, strings.ToUpper(create), "\n  KEY ", "no secondary index")
		require.NotContains(t, strings.ToUpper(create), "UNIQUE KEY", "no secondary index")
	}
	ddl, err = Schema()
	require.NoError(t, err)
	require.Contains(t, ddl, "`statefold_batches`")
	require.Contains(t, schemaSQL, "`statefold_members`")
}

func TestInvalidOptions(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "1abc", "a-b", "a`b", "a b", strings.Repeat("p", 33), "é"} {
		_, err := New(&sql.DB{}, WithTablePrefix(p))
		require.ErrorIs(t, err, storage.ErrInvalid, "prefix %q", p)
		require.ErrorIs(t, Migrate(context.Background(), &sql.DB{}, WithTablePrefix(p)), storage.ErrInvalid)
		_, err = Schema(WithTablePrefix(p))
		require.ErrorIs(t, err, storage.ErrInvalid)
	}
	_, err := New(nil)
	require.ErrorIs(t, err, storage.ErrInvalid)
	for _, o := range []Option{WithChunkSize(0), WithChunkSize(MaxChunkSize + 1), WithChunkConcurrency(0), nil} {
		_, err = New(&sql.DB{}, o)
		require.ErrorIs(t, err, storage.ErrInvalid)
	}
	_, err = New(&sql.DB{}, WithChunkConcurrency(1), WithChunkSize(MaxChunkSize))
	require.NoError(t, err)
}

// GetBatches reads in chunks: 50 ids (with duplicates and missing ones)
// through chunks of 7.
func TestGetBatchesChunks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, WithChunkSize(7))
	ctx := context.Background()
	var ids []string
	for i := range 50 {
		id := fmt.Sprintf("b%02d", i)
		ids = append(ids, id, id, "missing-"+id)
		if i%5 != 0 {
			_, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: id, State: "s"})
			require.NoError(t, err)
		}
	}
	got, err := f.store.GetBatches(ctx, "q", ids)
	require.NoError(t, err)
	require.Len(t, got, 40)
	seen := map[string]bool{}
	for _, b := range got {
		require.False(t, seen[b.ID])
		seen[b.ID] = true
	}
}
