package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/internal/readback"
	"github.com/statefold/statefold/storage"
)

// Store is a [storage.Driver] over a SQL server: a few autocommit
// statements per call (a compare-and-swap is an UPDATE, and a primary-key
// read when it changed nothing; no transactions).
type Store struct {
	// Q holds the statements.
	Q           Queries
	d           Dialect
	t           Tables
	chunkSize   int
	concurrency int
}

var (
	_ storage.Driver      = (*Store)(nil)
	_ storage.Snapshotter = (*Store)(nil)
	_ storage.MemberPager = (*Store)(nil)
	_ storage.Mover       = (*Store)(nil)
)

// New returns a Store over the tables t in dialect d. GetBatches reads
// chunks of at most chunkSize ids, concurrency of them at a time.
func New(d Dialect, t Tables, chunkSize, concurrency int) *Store {
	return &Store{Q: Build(d, t), d: d, t: t, chunkSize: chunkSize, concurrency: concurrency}
}

// exec runs a write statement unless its context has already ended.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if err := notSent(ctx); err != nil {
		return 0, err
	}
	return s.d.Exec(ctx, query, args...)
}

// errRow is a Row whose Scan fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (s *Store) queryRow(ctx context.Context, query string, args ...any) Row {
	if err := notSent(ctx); err != nil {
		return errRow{err}
	}
	return s.d.QueryRow(ctx, query, args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (Rows, error) {
	if err := notSent(ctx); err != nil {
		return nil, err
	}
	return s.d.Query(ctx, query, args...)
}

// cas runs a compare-and-swap UPDATE. A changed row is success. None
// means the key is missing or the condition (version, and for a batch its
// state: expectedState non-nil) does not hold; a primary-key read of the
// version (and state) tells storage.ErrNotFound from storage.ErrConflict.
// If the read finds the expected version and state (the row was created
// or moved back between the two statements), the UPDATE runs again.
func (s *Store) cas(ctx context.Context, what, update string, args []any, readBack string, key []any, expected int64, expectedState *string) error {
	for attempt := 1; ; attempt++ {
		n, err := s.exec(ctx, update, args...)
		if err != nil {
			return CallErr(ctx, s.d, what, true, err)
		}
		if n > 0 {
			return nil
		}
		var stored int64
		var state []byte
		dest := []any{&stored}
		if expectedState != nil {
			dest = append(dest, &state)
		}
		switch err := s.queryRow(ctx, readBack, key...).Scan(dest...); {
		case err != nil && s.d.NoRows(err):
			return fmt.Errorf("%s: %s: %w", s.d.Name(), what, storage.ErrNotFound)
		case err != nil:
			// The UPDATE changed nothing: not ambiguous, only unanswered.
			return CallErr(ctx, s.d, what+": read back", false, err)
		}
		if err := readback.Verdict(s.d.Name()+": "+what, stored, expected, string(state), expectedState, attempt); err != nil {
			return err
		}
	}
}

// get reads one row with scan, ErrNotFound when there is none.
func get[T any](ctx context.Context, s *Store, what, query string, scan func(Row) (T, error), args ...any) (T, error) {
	v, err := scan(s.queryRow(ctx, query, args...))
	switch {
	case err != nil && s.d.NoRows(err):
		var zero T
		return zero, fmt.Errorf("%s: %s: %w", s.d.Name(), what, storage.ErrNotFound)
	case err != nil:
		var zero T
		return zero, CallErr(ctx, s.d, what, false, err)
	}
	return v, nil
}

// list reads every row of query with scan, never nil.
func list[T any](ctx context.Context, s *Store, query string, scan func(Row) (T, error), args ...any) ([]T, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// timeDest scans a time column through the dialect.
type timeDest struct {
	d Dialect
	t *time.Time
}

// Scan implements sql.Scanner (pgx calls it too).
func (t timeDest) Scan(src any) error {
	v, err := t.d.ScanTime(src)
	*t.t = v
	return err
}

// PayloadArg is the argument for a NOT NULL blob column: never nil, which
// drivers send as NULL.
func PayloadArg(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}

// chunks splits ids into balanced chunks of at most size: 1,001 ids are
// two chunks of about 500, not one of 1,000 and then one of 1.
func chunks(ids []string, size int) [][]string {
	n := (len(ids) + size - 1) / size
	if n == 0 {
		return nil
	}
	each := (len(ids) + n - 1) / n
	out := make([][]string, 0, n)
	for ids := range slices.Chunk(ids, each) {
		out = append(out, ids)
	}
	return out
}

// GetBatches implements [storage.Driver]: one "WHERE queue = ? AND id IN
// (...)" query per balanced chunk, up to the store's concurrency at once.
func (s *Store) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	parts := chunks(ids, s.chunkSize)
	got := make([][]storage.Batch, len(parts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for i, chunk := range parts {
		g.Go(func() (err error) {
			args := append([]any{s.d.KeyArg(queue)}, s.d.IDArgs(chunk)...)
			got[i], err = list(gctx, s, s.Q.GetBatches(len(chunk)), s.ScanBatch, args...)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, CallErr(ctx, s.d, fmt.Sprintf("get batches of %q", queue), false, err)
	}
	return append([]storage.Batch{}, slices.Concat(got...)...), nil
}

// Checked is the portable layer [storage.Checked] puts around a Store, with
// the optional capabilities every SQL dialect offers ([storage.Snapshotter]:
// a List in one statement, one snapshot; [storage.MemberPager];
// [storage.Mover]: a batch's move and its index row in one statement): the
// methods of the mysql and postgres stores, every input checked.
type Checked interface {
	storage.Store
	storage.Snapshotter
	storage.MemberPager
	storage.Mover
}

// Check returns s behind [storage.Checked], with its capabilities.
func Check(s *Store) Checked { return storage.Checked(s).(Checked) }
