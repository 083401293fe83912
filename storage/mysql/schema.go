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

// Schema returns the DDL that [Migrate] runs — the embedded schema.sql with
// the table prefix of opts substituted — for DBAs who apply migrations with
// their own tools. Statements are separated by ";\n".
func Schema(opts ...Option) (string, error) {
	c, err := newConfig(opts)
	if err != nil {
		return "", err
	}
	return sqlstore.Join(schemaStatements(c)), nil
}

// schemaStatements are the statements of the embedded schema for c.
func schemaStatements(c config) []string {
	return sqlstore.Statements(schemaSQL, tables(config{Prefix: DefaultTablePrefix}), tables(c))
}

// Migrate creates the four tables if they do not exist (CREATE TABLE IF NOT
// EXISTS; running it again is a no-op). The statements are those of the
// embedded schema.sql; see [Schema]. It never drops anything; the one
// change it makes to an existing table is to add the columns a newer
// release needs to an operations table created by an earlier one:
// projected (added after v0.1.0), owner, owner_token, owner_until and
// released_at, each an online ALTER TABLE ... ADD COLUMN with the
// definition schema.sql gives it, so that an upgraded table is the table
// Schema creates. Rows written before read with the new fields zero.
// Concurrent Migrates are safe: a column another one added meanwhile is
// taken as added.
func Migrate(ctx context.Context, db *sql.DB, opts ...Option) error {
	if db == nil {
		return storage.Invalid("db", "nil *sql.DB")
	}
	c, err := newConfig(opts)
	if err != nil {
		return err
	}
	for _, stmt := range schemaStatements(c) {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("mysql: migrate: %w", err)
		}
	}
	return addColumns(ctx, db, c.Prefix+"operations", tables(c).Operations, addedOperationColumns)
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

// addedColumnNames lists the names of cols for a SELECT.
func addedColumnNames(cols []struct{ name, def string }) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// addColumns adds each of cols that table (named name in
// information_schema, quoted) lacks, in order.
func addColumns(ctx context.Context, db *sql.DB, name, table string, cols []struct{ name, def string }) error {
	rows, err := db.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS"+
		" WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", name)
	if err != nil {
		return fmt.Errorf("mysql: migrate: %w", err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var col string
		if err := rows.Scan(&col); err != nil {
			_ = rows.Close()
			return fmt.Errorf("mysql: migrate: %w", err)
		}
		have[strings.ToLower(col)] = true
	}
	err = rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
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
// to other connections), that the server accepts writes (not a read-only
// replica: route every statement to the primary, never through read/write
// splitting — the protocols read their own writes), and that the four
// tables exist with the columns this release reads (if not: run
// [Migrate], which also adds the columns an earlier release's tables
// lack). It reads only; call it at startup. Each problem is one error
// naming it.
func (s *Store) Check(ctx context.Context) error {
	var autocommit, readOnly int
	if err := s.db.QueryRowContext(ctx, "SELECT @@autocommit, @@read_only").Scan(&autocommit, &readOnly); err != nil {
		return sqlstore.CallErr(ctx, dialect{s.db}, "check", false, err)
	}
	if autocommit != 1 {
		return fmt.Errorf("mysql: check: autocommit is off on this connection: the store needs every statement to commit on its own (remove autocommit=false from the DSN or the server's init_connect): %w", storage.ErrInvalid)
	}
	if readOnly != 0 {
		return fmt.Errorf("mysql: check: the server is read-only (a replica?): point the store at the primary: %w", storage.ErrInvalid)
	}
	t := tables(s.cfg)
	for _, table := range []string{t.Batches, t.Members, t.Applies, t.Operations} {
		cols := "1"
		if table == t.Operations {
			cols = addedColumnNames(addedOperationColumns)
		}
		if _, err := s.db.ExecContext(ctx, "SELECT "+cols+" FROM "+table+" LIMIT 0"); err != nil {
			var me *gomysql.MySQLError
			if errors.As(err, &me) && (me.Number == erNoSuchTable || me.Number == erBadFieldError) {
				return fmt.Errorf("mysql: check: %v: run Migrate: %w", err, storage.ErrInvalid)
			}
			return sqlstore.CallErr(ctx, dialect{s.db}, "check", false, err)
		}
	}
	return nil
}
