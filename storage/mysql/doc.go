// Package mysql is a statefold backend for MySQL 8.0+ and MariaDB 10.6+
// over database/sql with github.com/go-sql-driver/mysql.
//
//	db, _ := sql.Open("mysql", "user:pass@tcp(host:3306)/app")
//	_ = mysql.Migrate(ctx, db, mysql.WithTablePrefix("sf_")) // idempotent
//	store, _ := mysql.New(db, mysql.WithTablePrefix("sf_"))
//	err := store.Check(ctx) // storage.ErrSchema: run Migrate
//
// # Schema and key design
//
// Four tables and a schema version row (schema.sql, embedded; [Schema]
// and [SchemaFrom] return the DDL for DBAs who run their own migrations):
//
//	batches     PRIMARY KEY (queue, id)
//	members     PRIMARY KEY (queue, state, batch_id)
//	applies     PRIMARY KEY (id)
//	operations  PRIMARY KEY (apply_id, id)
//
// Keys are VARBINARY(255), compared byte for byte: a utf8mb4 collation
// would fold case ("Q" = "q") and, on MariaDB, pad trailing spaces
// ("a" = "a "). Every primary key leads with the partition key — the queue
// or the apply — and there is no secondary index, so every statement is a
// primary-key point or prefix access (a test runs EXPLAIN on each) and the
// tables shard by queue or apply. There are no transactions:
//
//   - create is an INSERT; duplicate key error 1062 is storage.ErrAlreadyExists
//     (the *mysql.MySQLError stays reachable with errors.As);
//   - compare-and-swap is UPDATE ... SET version = version + 1 WHERE key AND
//     version = ? (for a batch also AND state = ?, the state the caller
//     read, compared byte for byte as the column is VARBINARY); zero rows
//     affected is followed by a primary-key read of the version (and state)
//     to tell storage.ErrNotFound from storage.ErrConflict;
//   - AddMember is INSERT ... ON DUPLICATE KEY UPDATE with IF(VALUES(version)
//     >= version, ...) so a lower version never overwrites (not INSERT IGNORE,
//     which would hide truncation); when the stored version is higher, the
//     other branch of the IF evaluates LAST_INSERT_ID(version), which hands
//     the stored version to the client as the statement's insert id, and a
//     non-zero insert id is storage.ErrConflict. The statement decides the
//     conflict atomically, with no read-back, and "rows affected" (which
//     clientFoundRows changes) is not consulted. VALUES() is deprecated in
//     MySQL 8.0.20+ but accepted by both servers, whereas the row-alias
//     syntax that replaces it is a syntax error on MariaDB;
//   - MoveBatch is one CALL of the procedure Migrate creates (AddMember's
//     upsert, then UpdateBatch's compare-and-swap if the row was written:
//     two autocommit statements, one round trip); without it, the two;
//   - RemoveMember is DELETE ... WHERE key AND version <= ?;
//   - GetBatches is one WHERE queue = ? AND id IN (...) query per chunk of
//     at most [WithChunkSize] ids (default 1000); the ids are split into
//     chunks of equal size, read up to [WithChunkConcurrency] at once
//     (default 4).
//
// The statements and the classification of errors are shared with
// storage/postgres; input is checked before any statement
// (storage.Checked).
//
// Leading with the partition key is what makes the schema shard: every
// statement names the whole partition key, so a table can be split by
// queue (batches, members) or by apply (applies, operations) — with
// Vitess, ProxySQL query rules or application-level routing — and no
// statement ever needs two shards. The orchestration above (batchstate,
// applystate) needs nothing else: no secondary index over a mutable
// column, no cross-row transaction.
//
// Times are DATETIME(6) holding UTC wall-clock values (NULL for the zero
// time), written and read as strings, so neither the DSN's parseTime and
// loc nor the session time_zone matter. Payloads are MEDIUMBLOB (the
// 256 KiB limit fits), error messages BLOB (16 KiB fits); labels
// (deployment, group, failure policy) are VARBINARY(255) like the keys.
//
// # DSN
//
// No DSN parameter is required. The store behaves the same with or without
// parseTime, loc, clientFoundRows (a compare-and-swap always changes the
// version column, so "changed rows" and "found rows" agree),
// interpolateParams and any session time_zone; a test proves it. Keep the
// driver's default utf8mb4 connection character set (or binary): a
// narrower one could not carry every UTF-8 key. Recommended: a timeout
// (timeout=5s) so an unreachable server fails fast, and the server's
// default strict sql_mode (the store validates every limit before it
// writes, so nothing would be truncated anyway).
//
// The store needs SELECT, INSERT, UPDATE and DELETE on its tables and
// EXECUTE on its procedure; [Migrate] needs CREATE, ALTER, CREATE ROUTINE
// and ALTER ROUTINE. Errors wrap the driver's: a duplicate create is
// storage.ErrAlreadyExists and errors.As finds the *mysql.MySQLError.
//
// # Faults, replicas and autocommit
//
// A statement whose connection dies after it was sent may have run: a
// write's error then matches storage.ErrAmbiguous and storage.ErrUnavailable
// (the driver's error reachable); a read's matches storage.ErrUnavailable.
// A write that was never sent — no connection could be dialled (refused,
// unreachable: a *net.OpError of a dial), or a pooled connection found dead
// before sending — is only ErrUnavailable: nothing was written. A write whose context ended while
// it was in flight matches storage.ErrAmbiguous and the context's error:
// the statement may already be on its way, and may run.
// A write whose context had ended before the call is not sent: its error
// is the context's alone. Lock wait timeouts, the server's statement
// timeouts (MariaDB's max_statement_time, MySQL's max_execution_time), a
// query killed with KILL QUERY, deadlocks, too many connections and a
// server shutting down are ErrUnavailable too, and only that for a write:
// the server rolled the statement back. A dial or read timeout of the
// driver is ErrUnavailable though its error matches
// context.DeadlineExceeded: the caller's context alone says whether the
// caller's deadline ended. The classification matrix in the
// repository's docs lists every answer. database/sql retries a statement
// on a fresh connection only when the driver says it was never sent. The
// store needs every statement to reach the primary (no read replica, no
// read/write splitting proxy: the protocols read their own writes) and to
// commit on its own (autocommit on); [Store.Check] verifies autocommit,
// a writable server, the tables and their [SchemaVersion] at startup.
//
// # Tests
//
// The tests use STATEFOLD_MYSQL_DSN, or else a mysql:8 container when
// Docker is healthy (from the repository's tools/testservers module, no
// dependency of this module); otherwise they skip, and fail with
// STATEFOLD_REQUIRE_BACKENDS=1. make test runs them against a local
// MariaDB; the classification matrix's server timeouts are MariaDB's, so
// on MySQL those tests end as for a missing server.
package mysql
