// Package postgres is a statefold backend for PostgreSQL 13+ over
// github.com/jackc/pgx/v5 (natively, not through database/sql).
//
//	pool, _ := pgxpool.New(ctx, "postgres://app@host:5432/app")
//	_ = postgres.Migrate(ctx, pool, postgres.WithTablePrefix("sf_")) // idempotent
//	store, err := postgres.New(pool, postgres.WithTablePrefix("sf_"))
//	err = store.Check(ctx) // storage.ErrSchema: run Migrate
//
// [New] and [Migrate] take a [DB], the three pgx methods they use, which
// *pgxpool.Pool, *pgx.Conn and pgx.Tx implement. Use a pool: List reads
// buckets concurrently, and GetBatches reads up to [WithChunkConcurrency]
// chunks at once (default 4) on anything but a *pgx.Conn or a pgx.Tx (one
// at a time there: a connection serves one call at a time). Size the pool
// for the concurrent Lists you run, four connections each.
//
// # Schema and key design
//
// Four tables (schema.sql, embedded; [Schema] returns it with the prefix
// and schema applied, for DBAs who run their own migrations):
//
//	batches     PRIMARY KEY (queue, id)
//	members     PRIMARY KEY (queue, state, batch_id)
//	applies     PRIMARY KEY (id)
//	operations  PRIMARY KEY (apply_id, id)
//
// Keys, labels and error messages are BYTEA: compared byte for byte, NUL
// allowed, no collation to fold case (TEXT cannot hold NUL, and a
// collation would make "Q" and "q" or trailing spaces collide). Payloads
// are BYTEA. Times are TIMESTAMPTZ — microsecond precision, NULL for the
// zero time — and come back in UTC whatever the session's TimeZone. Every
// primary key leads with the partition key (the queue or the apply), there
// is no secondary index, and every statement is a primary-key point or
// prefix access (a test runs EXPLAIN on each). There are no transactions:
//
//   - create is an INSERT; a unique violation (SQLSTATE 23505) is
//     storage.ErrAlreadyExists, and errors.As still finds the
//     *pgconn.PgError;
//   - compare-and-swap is one UPDATE ... SET version = version + 1 WHERE key
//     AND version = $n (for a batch also AND state = $m, the state the caller
//     read); when it changes no row a primary-key read of
//     the version (and state) tells storage.ErrNotFound from
//     storage.ErrConflict, and when it finds what the caller expected (the
//     row was created or moved back in between) the UPDATE runs again;
//   - AddMember is one INSERT ... ON CONFLICT (queue, state, batch_id) DO
//     UPDATE ... WHERE stored version <= new version RETURNING version: no
//     row back means a newer row is stored, storage.ErrConflict, decided by
//     the statement itself;
//   - RemoveMember is DELETE ... WHERE key AND version <= $n;
//   - GetBatches is one WHERE queue = $1 AND id IN (SELECT unnest($2))
//     query per chunk of at most [WithChunkSize] ids (default 1000), chunks
//     of equal size, [WithChunkConcurrency] at once. (An id = ANY($2)
//     condition over the same array makes the planner estimate every
//     element: List took twice as long.)
//
// The statements, the compare-and-swap and the classification of errors
// are shared with storage/mysql; this package holds PostgreSQL's dialect.
// Input is checked before any statement (storage.Checked).
//
// [WithSchema] puts the tables in a schema of their own; [WithTablePrefix]
// names them. The store needs SELECT, INSERT, UPDATE and DELETE on its four
// tables; [Migrate] needs CREATE, and ownership of the tables when it adds
// the columns a newer release needs to tables an earlier one created
// (ALTER TABLE). It records [SchemaVersion] in a fifth table, which
// [Store.Check] reads at startup. Errors wrap pgx's.
//
// # Faults
//
// A statement whose connection dies after it was sent may have run: a
// write's error then matches storage.ErrAmbiguous and storage.ErrUnavailable
// (pgx's error reachable); a read's matches storage.ErrUnavailable. A
// write that was never sent — pgx says so, or no connection could be
// opened (refused, unreachable: *pgconn.ConnectError) — is only
// ErrUnavailable: nothing was written. A write whose context ended while
// it was in flight matches storage.ErrAmbiguous and the context's error:
// the statement may already be on its way, and may run.
// A write whose context had ended before the call is not sent: its error
// is the context's alone. Connection exceptions (SQLSTATE class 08), too
// many connections, a server shutting down or terminating the backend,
// serialization failures, deadlocks and the server's own timeouts
// (lock_timeout 55P03, statement_timeout 57014) are ErrUnavailable too,
// and only that for a write: the server rolled the statement back. The
// caller's context, not the error, tells the caller's deadline: 57014 is
// also the answer to the cancel request pgx may send when the context
// ends (then a write is ErrAmbiguous with the context's error), and a
// connect timeout matches context.DeadlineExceeded (ErrUnavailable). The
// classification matrix in the repository's docs lists every answer. Point
// the pool at the primary, not a replica: the protocols read their own
// writes. The network-fault tests run the explorer's scenarios and the
// contract suite's crash points through a TCP proxy that cuts connections after a statement ran, stalls and resets
// them, and check a history of concurrent calls for linearizability.
//
// # Tests
//
// The tests use STATEFOLD_POSTGRES_DSN; without it and with a healthy
// Docker engine they start a postgres container with testcontainers-go
// (from the repository's tools/testservers module, no dependency of this
// module); otherwise they skip, and with STATEFOLD_REQUIRE_BACKENDS=1 they
// fail. Each test uses its own table prefix and drops its tables. make
// test runs them against a local PostgreSQL.
package postgres
