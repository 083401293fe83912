package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	gomysql "github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	"github.com/statefold/statefold/internal/readback"
	"github.com/statefold/statefold/storage"
)

// Store is a [storage.Store] over MySQL 8.0+ or MariaDB 10.6+. It is safe for
// concurrent use; every method is a few autocommit statements (a
// compare-and-swap is an UPDATE, and a primary-key read when it changed
// nothing; no transactions). Create it with [New] after running [Migrate].
type Store struct {
	checkedStore
	d *sqlDriver
}

// sqlDriver runs the statements: a [storage.Driver] whose input is checked
// and normalized.
type sqlDriver struct {
	db        *sql.DB
	chunkSize int
	q         queries
	cfg       config
}

var _ storage.Store = (*Store)(nil)

// checkedStore is the portable layer [storage.Checked] puts around the
// driver: its methods are Store's.
type checkedStore = storage.Store

// queries holds every statement the Store runs, built once from the table
// prefix. Each is a primary-key point or prefix access.
type queries struct {
	batchSelect  string // columns FROM batches, without WHERE
	insertBatch  string
	getBatch     string
	updateBatch  string
	batchVersion string // version and state: the batch CAS read-back

	addMember    string
	removeMember string
	listMembers  string

	insertApply  string
	getApply     string
	updateApply  string
	applyVersion string

	insertOperation  string
	getOperation     string
	listOperations   string
	updateOperation  string
	operationVersion string
}

func buildQueries(c config) queries {
	b, m, a, o := c.table("batches"), c.table("members"), c.table("applies"), c.table("operations")
	batchSelect := "SELECT queue, id, state, version, payload, " + timeCol("created_at") + ", " +
		timeCol("updated_at") + " FROM " + b
	applySelect := "SELECT id, state, error_message, stop_requested, pause_released, " +
		timeCol("started_at") + ", " + timeCol("completed_at") + ", payload, version, " +
		timeCol("created_at") + ", " + timeCol("updated_at") + " FROM " + a
	opSelect := "SELECT apply_id, id, seq, deployment, op_group, finalizer, state, on_failure, error_message, " +
		timeCol("started_at") + ", " + timeCol("completed_at") + ", payload, version, " +
		timeCol("created_at") + ", " + timeCol("updated_at") + ", projected, owner, owner_token, " +
		timeCol("owner_until") + ", " + timeCol("released_at") + " FROM " + o
	return queries{
		batchSelect: batchSelect,
		insertBatch: "INSERT INTO " + b + " (queue, id, state, version, payload, created_at, updated_at)" +
			" VALUES (?, ?, ?, 1, ?, ?, ?)",
		getBatch: batchSelect + " WHERE queue = ? AND id = ?",
		updateBatch: "UPDATE " + b + " SET state = ?, payload = ?, created_at = ?, updated_at = ?," +
			" version = version + 1 WHERE queue = ? AND id = ? AND version = ? AND state = ?",
		batchVersion: "SELECT version, state FROM " + b + " WHERE queue = ? AND id = ?",

		// added_at is assigned before version so that both IF()s compare
		// against the stored (old) version: MySQL evaluates the assignments
		// left to right, MariaDB too (or all against old values under
		// SIMULTANEOUS_ASSIGNMENT) — either way the result is the same.
		// When the stored version is higher, the row keeps its values and
		// LAST_INSERT_ID(version) (evaluated only in that branch of the IF)
		// hands the stored version to the client as the statement's insert
		// id: a non-zero LastInsertId is the conflict, decided atomically by
		// the statement itself. The table has no AUTO_INCREMENT column, so
		// the insert id is 0 otherwise. Rows affected cannot tell: with
		// clientFoundRows an untouched duplicate counts 1, like an insert.
		addMember: "INSERT INTO " + m + " (queue, state, batch_id, version, added_at) VALUES (?, ?, ?, ?, ?)" +
			" ON DUPLICATE KEY UPDATE" +
			" added_at = IF(VALUES(version) >= version, VALUES(added_at), added_at)," +
			" version = IF(VALUES(version) >= version, VALUES(version), LAST_INSERT_ID(version))",
		removeMember: "DELETE FROM " + m + " WHERE queue = ? AND state = ? AND batch_id = ? AND version <= ?",
		listMembers: "SELECT batch_id, version, " + timeCol("added_at") + " FROM " + m +
			" WHERE queue = ? AND state = ?",

		insertApply: "INSERT INTO " + a + " (id, state, error_message, stop_requested, pause_released," +
			" started_at, completed_at, payload, version, created_at, updated_at)" +
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
		getApply: applySelect + " WHERE id = ?",
		updateApply: "UPDATE " + a + " SET state = ?, error_message = ?, stop_requested = ?, pause_released = ?," +
			" started_at = ?, completed_at = ?, payload = ?, created_at = ?, updated_at = ?," +
			" version = version + 1 WHERE id = ? AND version = ?",
		applyVersion: "SELECT version FROM " + a + " WHERE id = ?",

		insertOperation: "INSERT INTO " + o + " (apply_id, id, seq, deployment, op_group, finalizer, state," +
			" on_failure, error_message, started_at, completed_at, payload, version, created_at, updated_at, projected," +
			" owner, owner_token, owner_until, released_at)" +
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
		getOperation:   opSelect + " WHERE apply_id = ? AND id = ?",
		listOperations: opSelect + " WHERE apply_id = ?",
		updateOperation: "UPDATE " + o + " SET seq = ?, deployment = ?, op_group = ?, finalizer = ?, state = ?," +
			" on_failure = ?, error_message = ?, started_at = ?, completed_at = ?, payload = ?," +
			" created_at = ?, updated_at = ?, projected = ?, owner = ?, owner_token = ?, owner_until = ?, released_at = ?," +
			" version = version + 1 WHERE apply_id = ? AND id = ? AND version = ?",
		operationVersion: "SELECT version FROM " + o + " WHERE apply_id = ? AND id = ?",
	}
}

// New returns a Store over db. It does no I/O: run [Migrate] with the same
// options first. A nil db or an invalid option is [storage.ErrInvalid].
//
// The Store does not depend on DSN parameters (parseTime, loc,
// clientFoundRows, interpolateParams) nor on the session's time_zone or
// sql_mode. The connection character set must be the driver's default
// utf8mb4 (or binary), so that every valid UTF-8 key reaches the server
// unchanged.
func New(db *sql.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, storage.Invalid("db", "nil *sql.DB")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	d := &sqlDriver{db: db, chunkSize: c.chunkSize, q: buildQueries(c), cfg: c}
	return &Store{storage.Checked(d), d}, nil
}

// cas runs a compare-and-swap UPDATE. One affected row is success. Zero rows
// means the key is missing or the condition (version, and for a batch its
// state) does not hold; a primary-key read of the version (and state) tells
// which. "Rows affected" counts changed rows by default and matched rows with
// clientFoundRows=true; the two agree here because the UPDATE always changes
// version. If the read-back finds the expected version and state (the row
// was created or moved back between the two statements), the UPDATE is
// retried. expectedState is nil when the condition has no state; readBack
// then selects only the version.
func (s *sqlDriver) cas(ctx context.Context, what, update string, args []any, readBack string, key []any, expected int64, expectedState *string) error {
	for attempt := 1; ; attempt++ {
		res, err := s.exec(ctx, update, args...)
		if err != nil {
			return callErr(ctx, what, true, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("mysql: %s: rows affected: %w", what, err)
		}
		if n > 0 {
			return nil
		}
		var stored int64
		var state string
		dest := []any{&stored}
		if expectedState != nil {
			dest = append(dest, &state)
		}
		switch err := s.db.QueryRowContext(ctx, readBack, key...).Scan(dest...); {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("mysql: %s: %w", what, storage.ErrNotFound)
		case err != nil:
			// The UPDATE changed nothing: not ambiguous, only unanswered.
			return callErr(ctx, what+": read back version", false, err)
		}
		if err := readback.Verdict("mysql: "+what, stored, expected, state, expectedState, attempt); err != nil {
			return err
		}
	}
}

func insertErr(ctx context.Context, what string, err error) error {
	if isDuplicate(err) {
		return fmt.Errorf("mysql: %s: %w: %w", what, storage.ErrAlreadyExists, err)
	}
	return callErr(ctx, what, true, err)
}

// CreateBatch implements [storage.Driver].
func (s *sqlDriver) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	b.Version = 1
	if _, err := s.exec(ctx, s.q.insertBatch, b.Queue, b.ID, b.State, payloadArg(b.Payload),
		timeArg(b.CreatedAt), timeArg(b.UpdatedAt)); err != nil {
		return storage.Batch{}, insertErr(ctx, fmt.Sprintf("create batch %q/%q", b.Queue, b.ID), err)
	}
	return b, nil
}

func scanBatch(sc interface{ Scan(...any) error }) (storage.Batch, error) {
	var b storage.Batch
	var created, updated dbTime
	if err := sc.Scan(&b.Queue, &b.ID, &b.State, &b.Version, &b.Payload, &created, &updated); err != nil {
		return storage.Batch{}, err
	}
	b.Payload = storage.ClonePayload(b.Payload)
	b.CreatedAt, b.UpdatedAt = created.t, updated.t
	return b, nil
}

// GetBatch implements [storage.Driver].
func (s *sqlDriver) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	b, err := scanBatch(s.db.QueryRowContext(ctx, s.q.getBatch, queue, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Batch{}, fmt.Errorf("mysql: get batch %q/%q: %w", queue, id, storage.ErrNotFound)
	case err != nil:
		return storage.Batch{}, callErr(ctx, fmt.Sprintf("get batch %q/%q", queue, id), false, err)
	}
	return b, nil
}

// GetBatches implements [storage.Driver]: the ids are deduplicated and
// read with one "WHERE queue = ? AND id IN (...)" query per chunk of
// [WithChunkSize] ids.
func (s *sqlDriver) GetBatches(ctx context.Context, queue string, ids []string) ([]storage.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	uniq := make([]string, 0, len(ids))
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			uniq = append(uniq, id)
		}
	}
	// Balanced chunks of at most chunkSize ids, read concurrently: 1,001
	// ids are two queries of about 500, not one of 1,000 and then one of 1.
	n := (len(uniq) + s.chunkSize - 1) / s.chunkSize
	if n == 0 {
		return []storage.Batch{}, nil
	}
	if n == 1 {
		out, err := s.getChunk(ctx, queue, uniq, make([]storage.Batch, 0, len(uniq)))
		if err != nil {
			return nil, callErr(ctx, fmt.Sprintf("get batches of %q", queue), false, err)
		}
		return out, nil
	}
	size := (len(uniq) + n - 1) / n
	parts := make([][]storage.Batch, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxChunkConcurrency)
	for i := range n {
		chunk := uniq[i*size : min((i+1)*size, len(uniq))]
		g.Go(func() (err error) {
			parts[i], err = s.getChunk(gctx, queue, chunk, make([]storage.Batch, 0, len(chunk)))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, callErr(ctx, fmt.Sprintf("get batches of %q", queue), false, err)
	}
	return slices.Concat(parts...), nil
}

// maxChunkConcurrency bounds how many GetBatches chunks are read at once.
const maxChunkConcurrency = 4

func (s *sqlDriver) getBatchesQuery(n int) string {
	return s.q.batchSelect + " WHERE queue = ? AND id IN (" + placeholders(n) + ")"
}

func (s *sqlDriver) getChunk(ctx context.Context, queue string, ids []string, out []storage.Batch) ([]storage.Batch, error) {
	args := make([]any, 0, len(ids)+1)
	args = append(args, queue)
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.db.QueryContext(ctx, s.getBatchesQuery(len(ids)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// UpdateBatch implements [storage.Driver].
func (s *sqlDriver) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64, expectedState string) (storage.Batch, error) {
	err := s.cas(ctx, fmt.Sprintf("update batch %q/%q", b.Queue, b.ID), s.q.updateBatch,
		[]any{b.State, payloadArg(b.Payload), timeArg(b.CreatedAt), timeArg(b.UpdatedAt), b.Queue, b.ID,
			expectedVersion, expectedState},
		s.q.batchVersion, []any{b.Queue, b.ID}, expectedVersion, &expectedState)
	if err != nil {
		return storage.Batch{}, err
	}
	b.Version = expectedVersion + 1
	return b, nil
}

// AddMember implements [storage.Driver] with one
// INSERT ... ON DUPLICATE KEY UPDATE that keeps the row with the higher
// version and reports a higher stored version through the statement's
// insert id (LAST_INSERT_ID(version)), which is then storage.ErrConflict.
func (s *sqlDriver) AddMember(ctx context.Context, m storage.Member) error {
	res, err := s.exec(ctx, s.q.addMember, m.Queue, m.State, m.BatchID, m.Version, timeArg(m.AddedAt))
	if err != nil {
		return callErr(ctx, fmt.Sprintf("add member %q/%q/%q", m.Queue, m.State, m.BatchID), true, err)
	}
	stored, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("mysql: add member %q/%q/%q: insert id: %w", m.Queue, m.State, m.BatchID, err)
	}
	if stored != 0 {
		return fmt.Errorf("mysql: add member %q/%q/%q: stored version %d is above %d: %w",
			m.Queue, m.State, m.BatchID, stored, m.Version, storage.ErrConflict)
	}
	return nil
}

// RemoveMember implements [storage.Driver] with one
// DELETE ... WHERE key AND version <= maxVersion.
func (s *sqlDriver) RemoveMember(ctx context.Context, queue, state, batchID string, maxVersion int64) error {
	if _, err := s.exec(ctx, s.q.removeMember, queue, state, batchID, maxVersion); err != nil {
		return callErr(ctx, fmt.Sprintf("remove member %q/%q/%q", queue, state, batchID), true, err)
	}
	return nil
}

// ListMembers implements [storage.Driver] as a prefix read of the
// members primary key.
func (s *sqlDriver) ListMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	out, err := s.listMembers(ctx, queue, state)
	if err != nil {
		return nil, callErr(ctx, fmt.Sprintf("list members %q/%q", queue, state), false, err)
	}
	return out, nil
}

func (s *sqlDriver) listMembers(ctx context.Context, queue, state string) ([]storage.Member, error) {
	rows, err := s.db.QueryContext(ctx, s.q.listMembers, queue, state)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.Member{}
	for rows.Next() {
		m := storage.Member{Queue: queue, State: state}
		var added dbTime
		if err := rows.Scan(&m.BatchID, &m.Version, &added); err != nil {
			return nil, err
		}
		m.AddedAt = added.t
		out = append(out, m)
	}
	return out, rows.Err()
}

// CreateApply implements [storage.Driver].
func (s *sqlDriver) CreateApply(ctx context.Context, a storage.Apply) (storage.Apply, error) {
	a.Version = 1
	if _, err := s.exec(ctx, s.q.insertApply, a.ID, a.State, a.ErrorMessage, a.StopRequested,
		a.PauseReleased, timeArg(a.StartedAt), timeArg(a.CompletedAt), payloadArg(a.Payload),
		timeArg(a.CreatedAt), timeArg(a.UpdatedAt)); err != nil {
		return storage.Apply{}, insertErr(ctx, fmt.Sprintf("create apply %q", a.ID), err)
	}
	return a, nil
}

// GetApply implements [storage.Driver].
func (s *sqlDriver) GetApply(ctx context.Context, id string) (storage.Apply, error) {
	var a storage.Apply
	var started, completed, created, updated dbTime
	err := s.db.QueryRowContext(ctx, s.q.getApply, id).Scan(&a.ID, &a.State, &a.ErrorMessage, &a.StopRequested,
		&a.PauseReleased, &started, &completed, &a.Payload, &a.Version, &created, &updated)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Apply{}, fmt.Errorf("mysql: get apply %q: %w", id, storage.ErrNotFound)
	case err != nil:
		return storage.Apply{}, callErr(ctx, fmt.Sprintf("get apply %q", id), false, err)
	}
	a.Payload = storage.ClonePayload(a.Payload)
	a.StartedAt, a.CompletedAt, a.CreatedAt, a.UpdatedAt = started.t, completed.t, created.t, updated.t
	return a, nil
}

// UpdateApply implements [storage.Driver].
func (s *sqlDriver) UpdateApply(ctx context.Context, a storage.Apply, expectedVersion int64) (storage.Apply, error) {
	err := s.cas(ctx, fmt.Sprintf("update apply %q", a.ID), s.q.updateApply,
		[]any{a.State, a.ErrorMessage, a.StopRequested, a.PauseReleased, timeArg(a.StartedAt),
			timeArg(a.CompletedAt), payloadArg(a.Payload), timeArg(a.CreatedAt), timeArg(a.UpdatedAt),
			a.ID, expectedVersion},
		s.q.applyVersion, []any{a.ID}, expectedVersion, nil)
	if err != nil {
		return storage.Apply{}, err
	}
	a.Version = expectedVersion + 1
	return a, nil
}

// CreateOperation implements [storage.Driver].
func (s *sqlDriver) CreateOperation(ctx context.Context, op storage.Operation) (storage.Operation, error) {
	op.Version = 1
	if _, err := s.exec(ctx, s.q.insertOperation, op.ApplyID, op.ID, op.Seq, op.Deployment, op.Group,
		op.Finalizer, op.State, op.OnFailure, op.ErrorMessage, timeArg(op.StartedAt), timeArg(op.CompletedAt),
		payloadArg(op.Payload), timeArg(op.CreatedAt), timeArg(op.UpdatedAt), op.Projected,
		op.Owner, op.OwnerToken, timeArg(op.OwnerUntil), timeArg(op.ReleasedAt)); err != nil {
		return storage.Operation{}, insertErr(ctx, fmt.Sprintf("create operation %q/%q", op.ApplyID, op.ID), err)
	}
	return op, nil
}

func scanOperation(sc interface{ Scan(...any) error }) (storage.Operation, error) {
	var op storage.Operation
	var started, completed, created, updated, ownerUntil, released dbTime
	if err := sc.Scan(&op.ApplyID, &op.ID, &op.Seq, &op.Deployment, &op.Group, &op.Finalizer, &op.State,
		&op.OnFailure, &op.ErrorMessage, &started, &completed, &op.Payload, &op.Version, &created, &updated,
		&op.Projected, &op.Owner, &op.OwnerToken, &ownerUntil, &released); err != nil {
		return storage.Operation{}, err
	}
	op.Payload = storage.ClonePayload(op.Payload)
	op.StartedAt, op.CompletedAt, op.CreatedAt, op.UpdatedAt = started.t, completed.t, created.t, updated.t
	op.OwnerUntil, op.ReleasedAt = ownerUntil.t, released.t
	return op, nil
}

// GetOperation implements [storage.Driver].
func (s *sqlDriver) GetOperation(ctx context.Context, applyID, id string) (storage.Operation, error) {
	op, err := scanOperation(s.db.QueryRowContext(ctx, s.q.getOperation, applyID, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Operation{}, fmt.Errorf("mysql: get operation %q/%q: %w", applyID, id, storage.ErrNotFound)
	case err != nil:
		return storage.Operation{}, callErr(ctx, fmt.Sprintf("get operation %q/%q", applyID, id), false, err)
	}
	return op, nil
}

// ListOperations implements [storage.Driver] as a prefix read of the
// operations primary key.
func (s *sqlDriver) ListOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	out, err := s.listOperations(ctx, applyID)
	if err != nil {
		return nil, callErr(ctx, fmt.Sprintf("list operations %q", applyID), false, err)
	}
	return out, nil
}

func (s *sqlDriver) listOperations(ctx context.Context, applyID string) ([]storage.Operation, error) {
	rows, err := s.db.QueryContext(ctx, s.q.listOperations, applyID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.Operation{}
	for rows.Next() {
		op, err := scanOperation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, rows.Err()
}

// UpdateOperation implements [storage.Driver].
func (s *sqlDriver) UpdateOperation(ctx context.Context, op storage.Operation, expectedVersion int64) (storage.Operation, error) {
	err := s.cas(ctx, fmt.Sprintf("update operation %q/%q", op.ApplyID, op.ID), s.q.updateOperation,
		[]any{op.Seq, op.Deployment, op.Group, op.Finalizer, op.State, op.OnFailure, op.ErrorMessage,
			timeArg(op.StartedAt), timeArg(op.CompletedAt), payloadArg(op.Payload), timeArg(op.CreatedAt),
			timeArg(op.UpdatedAt), op.Projected, op.Owner, op.OwnerToken, timeArg(op.OwnerUntil), timeArg(op.ReleasedAt),
			op.ApplyID, op.ID, expectedVersion},
		s.q.operationVersion, []any{op.ApplyID, op.ID}, expectedVersion, nil)
	if err != nil {
		return storage.Operation{}, err
	}
	op.Version = expectedVersion + 1
	return op, nil
}

// exec runs a write statement, and runs it again (up to deadlockRetries
// times in all) when the server rolled it back as a deadlock victim:
// concurrent upserts of neighbouring index rows can deadlock in InnoDB, and
// a rolled-back statement had no effect.
//
// A write whose context has already ended is not sent (errNotSent).
func (s *sqlDriver) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", errNotSent, err)
	}
	for attempt := 1; ; attempt++ {
		res, err := s.db.ExecContext(ctx, query, args...)
		var me *gomysql.MySQLError
		if err == nil || attempt >= deadlockRetries || !errors.As(err, &me) || me.Number != erDeadlock {
			return res, err
		}
	}
}
