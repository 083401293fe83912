package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/internal/readback"
	"github.com/statefold/statefold/storage"
)

// DB is the part of pgx a [Store] uses: *pgxpool.Pool and *pgx.Conn
// implement it (a *pgx.Conn serves one call at a time, so GetBatches then
// reads its chunks one after another).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var _ DB = (*pgx.Conn)(nil)

// errNotSent marks a statement that was not sent because its context had
// ended before it.
var errNotSent = errors.New("not sent")

// unsent is the DB a Store uses: a statement whose context has already
// ended is not sent, and its error (errNotSent and the context's error)
// says so, so that a write's error can tell that it did not land.
type unsent struct{ DB }

func notSent(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", errNotSent, err)
	}
	return nil
}

func (u unsent) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := notSent(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return u.DB.Exec(ctx, sql, args...)
}

func (u unsent) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := notSent(ctx); err != nil {
		return nil, err
	}
	return u.DB.Query(ctx, sql, args...)
}

func (u unsent) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := notSent(ctx); err != nil {
		return errRow{err}
	}
	return u.DB.QueryRow(ctx, sql, args...)
}

// errRow is a pgx.Row whose Scan fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// readConcurrency is how many GetBatches chunks a pool reads at once.
const readConcurrency = 4

// Store is a [storage.Store] over PostgreSQL. It is safe for concurrent use
// when its DB is (a pool is).
type Store struct {
	checkedStore
	d *driver
}

// driver runs the statements: a [storage.Driver] whose input is checked
// and normalized.
type driver struct {
	db          DB
	chunkSize   int
	concurrency int
	q           queries
}

var _ storage.Store = (*Store)(nil)

// checkedStore is the portable layer [storage.Checked] puts around the
// driver: its methods are Store's.
type checkedStore = storage.Store

type queries struct {
	insertBatch, getBatch, getBatches, updateBatch, batchVersion        string
	addMember, removeMember, listMembers                                string
	insertApply, getApply, updateApply, applyVersion                    string
	insertOperation, getOperation, listOperations, updateOperation, opV string
}

func buildQueries(c config) queries {
	b, m, a, o := c.table("batches"), c.table("members"), c.table("applies"), c.table("operations")
	batchCols := "queue, id, state, version, payload, created_at, updated_at"
	applyCols := "id, state, error_message, stop_requested, pause_released, started_at, completed_at, payload, version, created_at, updated_at"
	opCols := "apply_id, id, seq, deployment, op_group, finalizer, state, on_failure, error_message, started_at, completed_at, projected, payload, version, created_at, updated_at, owner, owner_token, owner_until, released_at"
	return queries{
		insertBatch:  "INSERT INTO " + b + " (" + batchCols + ") VALUES ($1, $2, $3, 1, $4, $5, $6)",
		getBatch:     "SELECT " + batchCols + " FROM " + b + " WHERE queue = $1 AND id = $2",
		getBatches:   "SELECT " + batchCols + " FROM " + b + " WHERE queue = $1 AND id IN (SELECT unnest($2::bytea[]))",
		updateBatch:  "UPDATE " + b + " SET state = $1, payload = $2, created_at = $3, updated_at = $4, version = version + 1 WHERE queue = $5 AND id = $6 AND version = $7 AND state = $8 RETURNING version",
		batchVersion: "SELECT version, state FROM " + b + " WHERE queue = $1 AND id = $2",

		// The conditional upsert decides atomically: the row is written
		// when absent or not newer; otherwise nothing is returned.
		addMember: "INSERT INTO " + m + " AS m (queue, state, batch_id, version, added_at) VALUES ($1, $2, $3, $4, $5)" +
			" ON CONFLICT (queue, state, batch_id) DO UPDATE SET version = EXCLUDED.version, added_at = EXCLUDED.added_at" +
			" WHERE m.version <= EXCLUDED.version RETURNING m.version",
		removeMember: "DELETE FROM " + m + " WHERE queue = $1 AND state = $2 AND batch_id = $3 AND version <= $4",
		listMembers:  "SELECT batch_id, version, added_at FROM " + m + " WHERE queue = $1 AND state = $2",

		insertApply:  "INSERT INTO " + a + " (" + applyCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10)",
		getApply:     "SELECT " + applyCols + " FROM " + a + " WHERE id = $1",
		updateApply:  "UPDATE " + a + " SET state = $1, error_message = $2, stop_requested = $3, pause_released = $4, started_at = $5, completed_at = $6, payload = $7, created_at = $8, updated_at = $9, version = version + 1 WHERE id = $10 AND version = $11 RETURNING version",
		applyVersion: "SELECT version FROM " + a + " WHERE id = $1",

		insertOperation: "INSERT INTO " + o + " (" + opCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15, $16, $17, $18, $19)",
		getOperation:    "SELECT " + opCols + " FROM " + o + " WHERE apply_id = $1 AND id = $2",
		listOperations:  "SELECT " + opCols + " FROM " + o + " WHERE apply_id = $1",
		updateOperation: "UPDATE " + o + " SET seq = $1, deployment = $2, op_group = $3, finalizer = $4, state = $5, on_failure = $6, error_message = $7, started_at = $8, completed_at = $9, projected = $10, payload = $11, created_at = $12, updated_at = $13, owner = $14, owner_token = $15, owner_until = $16, released_at = $17, version = version + 1 WHERE apply_id = $18 AND id = $19 AND version = $20 RETURNING version",
		opV:             "SELECT version FROM " + o + " WHERE apply_id = $1 AND id = $2",
	}
}

// New returns a Store over db. It does no I/O: run [Migrate] with the same
// options first. A nil db or an invalid option is an error matching
// storage.ErrInvalid.
func New(db DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, storage.Invalid("db", "nil DB")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	conc := readConcurrency
	switch db.(type) {
	case *pgx.Conn, pgx.Tx:
		conc = 1 // one connection serves one call at a time
	}
	d := &driver{db: unsent{db}, chunkSize: c.chunkSize, concurrency: conc, q: buildQueries(c)}
	return &Store{storage.Checked(d), d}, nil
}

// key turns a key or label into the bytes of its BYTEA column.
func key(s string) []byte { return []byte(s) }

// timeArg is a time for a TIMESTAMPTZ column: NULL for the zero time.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// payloadArg is a payload for a NOT NULL BYTEA column (pgx sends a nil
// slice as NULL).
func payloadArg(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}

// fromTime returns a scanned TIMESTAMPTZ as a UTC time, zero for NULL.
func fromTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return storage.NormalizeTime(t.Time)
}

// transient reports whether err, from a call whose context is still
// live, is a failure to reach or be served by the server rather than its
// answer: a connection error, a timeout (a dial or connect timeout too,
// even when it wraps context.DeadlineExceeded: that is not the caller's),
// or a server-side condition that clears (SQLSTATE class 08 connection
// exception, 53300 too many connections, 57P01-57P03 shutdown, 40001
// serialization failure, 40P01 deadlock, and the server's own timeouts,
// which roll the statement back: 55P03 lock_timeout, 57014
// statement_timeout).
func transient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch c := pgErr.Code; {
		case strings.HasPrefix(c, "08"), c == "53300", c == "57P01", c == "57P02", c == "57P03", c == "40001", c == "40P01",
			c == lockNotAvailable, c == queryCanceled:
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return pgconn.Timeout(err) || errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "conn closed")
}

// lockNotAvailable (lock_timeout) and queryCanceled (statement_timeout,
// or a cancel request) are the SQLSTATEs of a statement the server ended
// and rolled back.
const (
	lockNotAvailable = "55P03"
	queryCanceled    = "57014"
)

// callErr wraps the error of a statement of a call under ctx: a transient
// failure matches storage.ErrUnavailable, and a write's also
// storage.ErrAmbiguous when it got no answer — unless it was never sent:
// pgx says so (pgconn.SafeToRetry), or no connection could be opened
// (*pgconn.ConnectError: refused, unreachable, failed at startup).
//
// Whether the call ended by the caller's own limit is told by ctx, never
// by the error's type: a statement_timeout and the cancel request pgx
// sends when ctx ends are both 57014, and a connect timeout wraps
// context.DeadlineExceeded. When ctx has ended, a write that pgx may have
// sent may have landed: its error matches storage.ErrAmbiguous and the
// context's error (not ErrUnavailable: the caller's own limit); a read's,
// or an unsent write's (its context had ended before it), the context's
// error alone.
func callErr(ctx context.Context, what string, write bool, err error) error {
	var pgErr *pgconn.PgError
	var ce *pgconn.ConnectError
	if cerr := ctx.Err(); cerr != nil {
		if !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		if write && !pgconn.SafeToRetry(err) && !errors.As(err, &ce) && !errors.Is(err, errNotSent) {
			return fmt.Errorf("postgres: %s: %w: %w", what, storage.ErrAmbiguous, err)
		}
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	switch {
	case !transient(err):
		return fmt.Errorf("postgres: %s: %w", what, err)
	case write && !pgconn.SafeToRetry(err) && !errors.As(err, &pgErr) && !errors.As(err, &ce):
		// No answer: the statement may have run. (A server error — a
		// deadlock victim, a serialization failure, a timeout — was
		// rolled back.)
		return fmt.Errorf("postgres: %s: %w: %w: %w", what, storage.ErrAmbiguous, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w: %w", what, storage.ErrUnavailable, err)
}

func insertErr(ctx context.Context, what string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		return fmt.Errorf("postgres: %s: %w: %w", what, storage.ErrAlreadyExists, err)
	}
	return callErr(ctx, what, true, err)
}

// cas runs a compare-and-swap UPDATE ... RETURNING version. No row returned
// means the key is missing or the condition failed; a primary-key read of
// the version (and, for a batch, its state: expectedState non-nil) tells
// storage.ErrNotFound from storage.ErrConflict. If the read finds the
// expected version and state (the row was created or moved back between
// the two statements), the UPDATE is run again, as MySQL's store does.
func (s *driver) cas(ctx context.Context, what, update string, args []any, versionQuery string, keyArgs []any, expected int64, expectedState *string) error {
	for attempt := 1; ; attempt++ {
		var v int64
		err := s.db.QueryRow(ctx, update, args...).Scan(&v)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return callErr(ctx, what, true, err)
		}
		var state []byte
		dest := []any{&v}
		if expectedState != nil {
			dest = append(dest, &state)
		}
		err = s.db.QueryRow(ctx, versionQuery, keyArgs...).Scan(dest...)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("postgres: %s: %w", what, storage.ErrNotFound)
		case err != nil:
			// The UPDATE changed nothing: not ambiguous, only unanswered.
			return callErr(ctx, what+": read back", false, err)
		}
		if err := readback.Verdict("postgres: "+what, v, expected, string(state), expectedState, attempt); err != nil {
			return err
		}
	}
}

type scanner interface{ Scan(dest ...any) error }

func scanBatch(sc scanner) (storage.Batch, error) {
	var queue, id, state, payload []byte
	var created, updated pgtype.Timestamptz
	var b storage.Batch
	if err := sc.Scan(&queue, &id, &state, &b.Version, &payload, &created, &updated); err != nil {
		return storage.Batch{}, err
	}
	b.Queue, b.ID, b.State = string(queue), string(id), string(state)
	b.Payload = storage.ClonePayload(payload)
	b.CreatedAt, b.UpdatedAt = fromTime(created), fromTime(updated)
	return b, nil
}

// CreateBatch implements [storage.Driver].
func (s *driver) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	b.Version = 1
	if _, err := s.db.Exec(ctx, s.q.insertBatch, key(b.Queue), key(b.ID), key(b.State), payloadArg(b.Payload),
		timeArg(b.CreatedAt), timeArg(b.UpdatedAt)); err != nil {
		return storage.Batch{}, insertErr(ctx, fmt.Sprintf("create batch %q/%q", b.Queue, b.ID), err)
	}
	return b, nil
}

// GetBatch implements [storage.Driver].
func (s *driver) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	b, err := scanBatch(s.db.QueryRow(ctx, s.q.getBatch, key(queue), key(id)))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return storage.Batch{}, fmt.Errorf("postgres: get batch %q/%q: %w", queue, id, storage.ErrNotFound)
	case err != nil:
		return storage.Batch{}, callErr(ctx, fmt.Sprintf("get batch %q/%q", queue, id), false, err)
	}
	return b, nil
}

// GetBatches implements [storage.Driver]: one IN (SELECT unnest($2))
// query per chunk of at most [WithChunkSize] distinct ids, chunks of equal
// size, up to four read at once on a pool.
func (s *driver) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	seen := make(map[string]bool, len(ids))
	var keys [][]byte
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, key(id))
		}
	}
	if len(keys) == 0 {
		return []storage.Batch{}, nil
	}
	n := (len(keys) + s.chunkSize - 1) / s.chunkSize
	size := (len(keys) + n - 1) / n
	chunks := make([][]storage.Batch, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for i := range n {
		chunk := keys[i*size : min((i+1)*size, len(keys))]
		g.Go(func() error {
			rows, err := s.db.Query(gctx, s.q.getBatches, key(queue), chunk)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				b, err := scanBatch(rows)
				if err != nil {
					return err
				}
				chunks[i] = append(chunks[i], b)
			}
			return rows.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, callErr(ctx, fmt.Sprintf("get batches of %q", queue), false, err)
	}
	out := make([]storage.Batch, 0, len(keys))
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}

// UpdateBatch implements [storage.Driver].
func (s *driver) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64, expectedState string) (storage.Batch, error) {
	err := s.cas(ctx, fmt.Sprintf("update batch %q/%q", b.Queue, b.ID), s.q.updateBatch,
		[]any{key(b.State), payloadArg(b.Payload), timeArg(b.CreatedAt), timeArg(b.UpdatedAt),
			key(b.Queue), key(b.ID), expectedVersion, key(expectedState)},
		s.q.batchVersion, []any{key(b.Queue), key(b.ID)}, expectedVersion, &expectedState)
	if err != nil {
		return storage.Batch{}, err
	}
	b.Version = expectedVersion + 1
	return b, nil
}

// AddMember implements [storage.Driver] as one conditional upsert
// (INSERT ... ON CONFLICT DO UPDATE ... WHERE stored version <= new): no
// row returned means a newer row is stored, storage.ErrConflict.
func (s *driver) AddMember(ctx context.Context, m storage.Member) error {
	var v int64
	err := s.db.QueryRow(ctx, s.q.addMember, key(m.Queue), key(m.State), key(m.BatchID), m.Version, timeArg(m.AddedAt)).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("postgres: add member %q/%q/%q v%d: a newer row is stored: %w", m.Queue, m.State, m.BatchID, m.Version, storage.ErrConflict)
	case err != nil:
		return callErr(ctx, fmt.Sprintf("add member %q/%q/%q", m.Queue, m.State, m.BatchID), true, err)
	}
	return nil
}

// RemoveMember implements [storage.Driver].
func (s *driver) RemoveMember(ctx context.Context, queue, state, batchID string, maxVersion int64) error {
	if _, err := s.db.Exec(ctx, s.q.removeMember, key(queue), key(state), key(batchID), maxVersion); err != nil {
		return callErr(ctx, fmt.Sprintf("remove member %q/%q/%q", queue, state, batchID), true, err)
	}
	return nil
}

// ListMembers implements [storage.Driver] as a prefix read of the
// members primary key.
func (s *driver) ListMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	rows, err := s.db.Query(ctx, s.q.listMembers, key(queue), key(state))
	if err != nil {
		return nil, callErr(ctx, fmt.Sprintf("list members %q/%q", queue, state), false, err)
	}
	defer rows.Close()
	out := []storage.Member{}
	for rows.Next() {
		var id []byte
		var added pgtype.Timestamptz
		m := storage.Member{Queue: queue, State: state}
		if err := rows.Scan(&id, &m.Version, &added); err != nil {
			return nil, callErr(ctx, fmt.Sprintf("list members %q/%q", queue, state), false, err)
		}
		m.BatchID, m.AddedAt = string(id), fromTime(added)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, callErr(ctx, fmt.Sprintf("list members %q/%q", queue, state), false, err)
	}
	return out, nil
}

func scanApply(sc scanner) (storage.Apply, error) {
	var id, state, msg, payload []byte
	var started, completed, created, updated pgtype.Timestamptz
	var a storage.Apply
	if err := sc.Scan(&id, &state, &msg, &a.StopRequested, &a.PauseReleased, &started, &completed, &payload,
		&a.Version, &created, &updated); err != nil {
		return storage.Apply{}, err
	}
	a.ID, a.State, a.ErrorMessage = string(id), string(state), string(msg)
	a.Payload = storage.ClonePayload(payload)
	a.StartedAt, a.CompletedAt, a.CreatedAt, a.UpdatedAt = fromTime(started), fromTime(completed), fromTime(created), fromTime(updated)
	return a, nil
}

// CreateApply implements [storage.Driver].
func (s *driver) CreateApply(ctx context.Context, a storage.Apply) (storage.Apply, error) {
	a.Version = 1
	if _, err := s.db.Exec(ctx, s.q.insertApply, key(a.ID), key(a.State), key(a.ErrorMessage), a.StopRequested,
		a.PauseReleased, timeArg(a.StartedAt), timeArg(a.CompletedAt), payloadArg(a.Payload),
		timeArg(a.CreatedAt), timeArg(a.UpdatedAt)); err != nil {
		return storage.Apply{}, insertErr(ctx, fmt.Sprintf("create apply %q", a.ID), err)
	}
	return a, nil
}

// GetApply implements [storage.Driver].
func (s *driver) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	a, err := scanApply(s.db.QueryRow(ctx, s.q.getApply, key(id)))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return storage.Apply{}, fmt.Errorf("postgres: get apply %q: %w", id, storage.ErrNotFound)
	case err != nil:
		return storage.Apply{}, callErr(ctx, fmt.Sprintf("get apply %q", id), false, err)
	}
	return a, nil
}

// UpdateApply implements [storage.Driver].
func (s *driver) UpdateApply(ctx context.Context, a storage.Apply, expectedVersion int64) (storage.Apply, error) {
	err := s.cas(ctx, fmt.Sprintf("update apply %q", a.ID), s.q.updateApply,
		[]any{key(a.State), key(a.ErrorMessage), a.StopRequested, a.PauseReleased, timeArg(a.StartedAt),
			timeArg(a.CompletedAt), payloadArg(a.Payload), timeArg(a.CreatedAt), timeArg(a.UpdatedAt),
			key(a.ID), expectedVersion},
		s.q.applyVersion, []any{key(a.ID)}, expectedVersion, nil)
	if err != nil {
		return storage.Apply{}, err
	}
	a.Version = expectedVersion + 1
	return a, nil
}

func scanOperation(sc scanner) (storage.Operation, error) {
	var applyID, id, dep, group, state, onFailure, msg, payload, owner []byte
	var started, completed, created, updated, ownerUntil, released pgtype.Timestamptz
	var op storage.Operation
	if err := sc.Scan(&applyID, &id, &op.Seq, &dep, &group, &op.Finalizer, &state, &onFailure, &msg,
		&started, &completed, &op.Projected, &payload, &op.Version, &created, &updated,
		&owner, &op.OwnerToken, &ownerUntil, &released); err != nil {
		return storage.Operation{}, err
	}
	op.ApplyID, op.ID, op.Deployment, op.Group = string(applyID), string(id), string(dep), string(group)
	op.State, op.OnFailure, op.ErrorMessage = string(state), string(onFailure), string(msg)
	op.Payload = storage.ClonePayload(payload)
	op.StartedAt, op.CompletedAt = fromTime(started), fromTime(completed)
	op.CreatedAt, op.UpdatedAt = fromTime(created), fromTime(updated)
	op.Owner, op.OwnerUntil, op.ReleasedAt = string(owner), fromTime(ownerUntil), fromTime(released)
	return op, nil
}

// CreateOperation implements [storage.Driver].
func (s *driver) CreateOperation(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	op.Version = 1
	if _, err := s.db.Exec(ctx, s.q.insertOperation, key(op.ApplyID), key(op.ID), op.Seq, key(op.Deployment),
		key(op.Group), op.Finalizer, key(op.State), key(op.OnFailure), key(op.ErrorMessage),
		timeArg(op.StartedAt), timeArg(op.CompletedAt), op.Projected, payloadArg(op.Payload),
		timeArg(op.CreatedAt), timeArg(op.UpdatedAt), key(op.Owner), op.OwnerToken, timeArg(op.OwnerUntil),
		timeArg(op.ReleasedAt)); err != nil {
		return storage.Operation{}, insertErr(ctx, fmt.Sprintf("create operation %q/%q", op.ApplyID, op.ID), err)
	}
	return op, nil
}

// GetOperation implements [storage.Driver].
func (s *driver) GetOperation(ctx context.Context, applyID, id string) (storage.Operation, error) {
	op, err := scanOperation(s.db.QueryRow(ctx, s.q.getOperation, key(applyID), key(id)))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return storage.Operation{}, fmt.Errorf("postgres: get operation %q/%q: %w", applyID, id, storage.ErrNotFound)
	case err != nil:
		return storage.Operation{}, callErr(ctx, fmt.Sprintf("get operation %q/%q", applyID, id), false, err)
	}
	return op, nil
}

// ListOperations implements [storage.Driver] as a prefix read of
// the operations primary key.
func (s *driver) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	rows, err := s.db.Query(ctx, s.q.listOperations, key(applyID))
	if err != nil {
		return nil, callErr(ctx, fmt.Sprintf("list operations %q", applyID), false, err)
	}
	defer rows.Close()
	out := []storage.Operation{}
	for rows.Next() {
		op, err := scanOperation(rows)
		if err != nil {
			return nil, callErr(ctx, fmt.Sprintf("list operations %q", applyID), false, err)
		}
		out = append(out, op)
	}
	if err := rows.Err(); err != nil {
		return nil, callErr(ctx, fmt.Sprintf("list operations %q", applyID), false, err)
	}
	return out, nil
}

// UpdateOperation implements [storage.Driver].
func (s *driver) UpdateOperation(ctx context.Context, op storage.Operation, expectedVersion int64) (storage.Operation, error) {
	err := s.cas(ctx, fmt.Sprintf("update operation %q/%q", op.ApplyID, op.ID), s.q.updateOperation,
		[]any{op.Seq, key(op.Deployment), key(op.Group), op.Finalizer, key(op.State), key(op.OnFailure),
			key(op.ErrorMessage), timeArg(op.StartedAt), timeArg(op.CompletedAt), op.Projected,
			payloadArg(op.Payload), timeArg(op.CreatedAt), timeArg(op.UpdatedAt), key(op.Owner), op.OwnerToken,
			timeArg(op.OwnerUntil), timeArg(op.ReleasedAt), key(op.ApplyID), key(op.ID), expectedVersion},
		s.q.opV, []any{key(op.ApplyID), key(op.ID)}, expectedVersion, nil)
	if err != nil {
		return storage.Operation{}, err
	}
	op.Version = expectedVersion + 1
	return op, nil
}
