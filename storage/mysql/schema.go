package mysql

import (
	"context"
	"database/sql"
	_ "embed" // schema.sql
	"errors"
	"fmt"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore"
)

//go:embed schema.sql
var schemaSQL string

// SchemaVersion is the version of the tables this release reads and
// writes; [Migrate] and schema.sql record it and [Store.Check] requires
// it. The tables of v0.1.0 are version 1.
const SchemaVersion = sqlstore.SchemaVersion

// Schema returns the DDL that creates this release's tables where none
// exist and records [SchemaVersion] — the embedded schema.sql with the
// table prefix of opts substituted — for DBAs who apply migrations with
// their own tools; [SchemaFrom] gives the DDL from an earlier release's
// tables. Statements end with ";\n", except the procedure's, whose body
// holds ";": it stands between "DELIMITER //" and "DELIMITER ;" lines, as
// the mysql client and most migration tools read it.
func Schema(opts ...Option) (string, error) { return SchemaFrom(0, opts...) }

// SchemaFrom returns the DDL that brings tables of schema version from (0:
// none; 1: v0.1.0's) to [SchemaVersion]: from version 1, ALTER TABLE
// statements adding the columns v0.1.0's operations table lacks, then
// [Schema]'s. Apply it, then run [Store.Check]. On tables that have some
// of those columns already (a Migrate that stopped half-way) run [Migrate]
// instead, which skips what exists.
func SchemaFrom(from int, opts ...Option) (string, error) {
	c, err := newConfig(opts)
	if err != nil {
		return "", err
	}
	var stmts []string
	switch from {
	case 0, SchemaVersion:
	case 1:
		for _, col := range addedOperationColumns {
			stmts = append(stmts, "ALTER TABLE "+tables(c).Operations+" ADD COLUMN "+col.name+" "+col.def)
		}
	default:
		return "", storage.Invalid("from", "no released schema version %d (versions 0 to %d)", from, SchemaVersion)
	}
	return sqlstore.Join(append(stmts, schemaStatements(c)...)), nil
}

// schemaStatements are the statements of the embedded schema for c: its
// tables and its procedure renamed after c's prefix.
func schemaStatements(c config) []string {
	stmts := sqlstore.Statements(schemaSQL, tables(config{Prefix: DefaultTablePrefix}), tables(c))
	for i, stmt := range stmts {
		stmts[i] = strings.ReplaceAll(stmt, procedure(config{Prefix: DefaultTablePrefix}), procedure(c))
	}
	return stmts
}

// Migrate brings the tables to [SchemaVersion]: it creates those that do
// not exist (CREATE TABLE IF NOT EXISTS; running it again is a no-op), adds
// to an earlier release's operations table the columns it lacks —
// projected (added after v0.1.0), owner, owner_token, owner_until,
// released_at and projected_version, each an online ALTER TABLE ... ADD COLUMN with the
// definition schema.sql gives it, so that an upgraded table is the table
// Schema creates — and records the version last, so that a Migrate that
// stops half-way leaves tables [Store.Check] refuses. Rows written before
// read with the new fields zero. It never drops a table, a column or a
// row (it replaces the schema's stored procedure, <prefix>move_batch,
// which holds no data), and refuses tables of a later release
// (storage.ErrSchema). Concurrent Migrates are safe: a column or the
// procedure another one added meanwhile is taken as added. It needs the
// CREATE, ALTER, CREATE ROUTINE, ALTER ROUTINE, SELECT, INSERT and UPDATE
// privileges.
func Migrate(ctx context.Context, db *sql.DB, opts ...Option) error {
	if db == nil {
		return storage.Invalid("db", "nil *sql.DB")
	}
	c, err := newConfig(opts)
	if err != nil {
		return err
	}
	if v, err := sqlstore.New(dialect{db: db}, tables(c), 1, 1).Version(ctx); err == nil && v > SchemaVersion {
		return sqlstore.TooNew("mysql", v)
	}
	var record []string // the version, written last
	for _, stmt := range schemaStatements(c) {
		if strings.HasPrefix(stmt, "INSERT") {
			record = append(record, stmt)
		} else if _, err := db.ExecContext(ctx, stmt); err != nil && !isErr(err, erSPAlreadyExists) {
			return fmt.Errorf("mysql: migrate: %w", err)
		}
	}
	if err := addColumns(ctx, db, c.Prefix+"operations", tables(c).Operations, addedOperationColumns); err != nil {
		return err
	}
	for _, stmt := range record {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("mysql: migrate: record the schema version: %w", err)
		}
	}
	return nil
}

// addedOperationColumns are the operations columns added after the first
// release, in the order they were added, each with its definition in
// schema.sql. MySQL 8.0 has no ADD COLUMN IF NOT EXISTS (MariaDB has), so
// Migrate reads which columns exist and adds the others.
var addedOperationColumns = []struct{ name, def string }{
	{"projected", "BOOLEAN NOT NULL DEFAULT FALSE"},
	{"owner", "VARBINARY(255) NOT NULL DEFAULT ''"},
	{"owner_token", "BIGINT NOT NULL DEFAULT 0"},
	{"owner_until", "DATETIME(6) NULL"},
	{"released_at", "DATETIME(6) NULL"},
	{"projected_version", "BIGINT NOT NULL DEFAULT 0"},
}

// MySQL error numbers Migrate and Check tell apart.
const (
	// erDupFieldName (ER_DUP_FIELDNAME): the column exists.
	erDupFieldName = 1060
	// erBadFieldError (ER_BAD_FIELD_ERROR): no such column.
	erBadFieldError = 1054
	// erNoSuchTable (ER_NO_SUCH_TABLE): no such table.
	erNoSuchTable = 1146
)

// Missing reports a statement naming a table or a column that does not
// exist.
func (dialect) Missing(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && (me.Number == erNoSuchTable || me.Number == erBadFieldError)
}

// existingColumns reads the column names of table (named name in
// information_schema).
func existingColumns(ctx context.Context, db *sql.DB, name string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS"+
		" WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var col string
		if err := rows.Scan(&col); err != nil {
			return nil, err
		}
		have[strings.ToLower(col)] = true
	}
	return have, rows.Err()
}

// addColumns adds each of cols that table (named name in
// information_schema, quoted) lacks, in order.
func addColumns(ctx context.Context, db *sql.DB, name, table string, cols []struct{ name, def string }) error {
	have, err := existingColumns(ctx, db, name)
	if err != nil {
		return fmt.Errorf("mysql: migrate: %w", err)
	}
	for _, col := range cols {
		if have[col.name] {
			continue
		}
		_, err := db.ExecContext(ctx, "ALTER TABLE "+table+" ADD COLUMN "+col.name+" "+col.def)
		var me *gomysql.MySQLError
		if err != nil && !(errors.As(err, &me) && me.Number == erDupFieldName) {
			return fmt.Errorf("mysql: migrate: add %s.%s: %w", name, col.name, err)
		}
	}
	return nil
}

// Check verifies what the store relies on and MySQL does not enforce:
// that the connection autocommits (each statement is its own transaction:
// with autocommit off, writes would wait in an open transaction, invisible
// to other connections) and that the server accepts writes (not a
// read-only replica: route every statement to the primary, never through
// read/write splitting — the protocols read their own writes), both
// storage.ErrInvalid; and that the four tables exist with the columns
// this release reads and record [SchemaVersion]: tables missing, of an
// earlier release, half-migrated or of a later release are an error
// matching storage.ErrSchema that says to run [Migrate] (or apply
// [SchemaFrom]'s DDL), and so is a missing procedure behind MoveBatch
// (tables an earlier build migrated). It reads only; call it at startup
// ([New] does no I/O). Each problem is one error naming it.
func (s *Store) Check(ctx context.Context) error {
	var autocommit, readOnly int
	if err := s.db.QueryRowContext(ctx, "SELECT @@autocommit, @@read_only").Scan(&autocommit, &readOnly); err != nil {
		return sqlstore.CallErr(ctx, dialect{db: s.db}, "check", false, err)
	}
	if autocommit != 1 {
		return fmt.Errorf("mysql: check: autocommit is off on this connection: the store needs every statement to commit on its own (remove autocommit=false from the DSN or the server's init_connect): %w", storage.ErrInvalid)
	}
	if readOnly != 0 {
		return fmt.Errorf("mysql: check: the server is read-only (a replica?): point the store at the primary: %w", storage.ErrInvalid)
	}
	if err := s.d.Check(ctx); err != nil {
		return err
	}
	return s.checkProcedure(ctx)
}

// checkProcedure verifies that the procedure behind MoveBatch exists
// (tables migrated by a build before it have none): without it, or
// without the EXECUTE privilege on it, MoveBatch would still answer right
// but pay two round trips.
func (s *Store) checkProcedure(ctx context.Context) error {
	name := strings.Trim(s.move, "`")
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.ROUTINES"+
		" WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = ? AND ROUTINE_TYPE = 'PROCEDURE'", name).Scan(&n)
	if err != nil {
		return sqlstore.CallErr(ctx, dialect{db: s.db}, "check", false, err)
	}
	if n == 0 {
		return fmt.Errorf("mysql: check: no procedure %s, or no privilege to see it (tables of an earlier build): run Migrate: %w", s.move, storage.ErrSchema)
	}
	return nil
}

// isErr reports whether err is the server's error number.
func isErr(err error, number uint16) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && me.Number == number
}
