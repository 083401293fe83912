package postgres

import (
	"context"
	_ "embed" // schema.sql
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore"
)

//go:embed schema.sql
var schemaSQL string

// SchemaVersion is the version of the tables this release reads and
// writes; [Migrate] and schema.sql record it and [Store.Check] requires
// it. (This is PostgreSQL's first release: there is no earlier version.)
const SchemaVersion = sqlstore.SchemaVersion

// Schema returns the DDL that [Migrate] runs — the embedded schema.sql with
// the table prefix and schema of opts applied — for DBAs who apply
// migrations with their own tools: it creates the tables where none
// exist, adds the columns a pre-release table lacks (ADD COLUMN IF NOT
// EXISTS) and records [SchemaVersion]. Apply it, then run [Store.Check].
// Statements are separated by ";\n".
func Schema(opts ...Option) (string, error) {
	c, err := newConfig(opts, false)
	if err != nil {
		return "", err
	}
	return sqlstore.Join(schemaStatements(c)), nil
}

// schemaStatements are the statements of the embedded schema for c.
func schemaStatements(c config) []string {
	return sqlstore.Statements(schemaSQL, tables(config{Prefix: DefaultTablePrefix}), tables(c))
}

// Migrate brings the tables to [SchemaVersion] with the statements of the
// embedded schema.sql (see [Schema]): it creates the tables that do not
// exist (CREATE TABLE IF NOT EXISTS; running it again is a no-op, also
// concurrently with another Migrate as far as PostgreSQL allows), adds
// the columns a newer release needs to an operations table created by an
// earlier one (owner, owner_token, owner_until, released_at and
// projected_version: ALTER
// TABLE ... ADD COLUMN IF NOT EXISTS, with the definitions a new table
// gets, so that an upgraded table is the table Schema creates) and records
// the version last. Rows written before read with the new fields zero. It
// never drops anything, and refuses tables of a later release
// (storage.ErrSchema). It needs CREATE on the schema and ownership of the
// tables (ALTER); the schema named by [WithSchema] must exist.
func Migrate(ctx context.Context, db DB, opts ...Option) error {
	if db == nil {
		return storage.Invalid("db", "nil DB")
	}
	c, err := newConfig(opts, false)
	if err != nil {
		return err
	}
	if v, err := sqlstore.New(dialect{db}, tables(c), 1, 1).Version(ctx); err == nil && v > SchemaVersion {
		return sqlstore.TooNew("postgres", v)
	}
	for _, stmt := range schemaStatements(c) {
		if _, err := db.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
	}
	return nil
}

// Check verifies that the four tables exist with the columns this release
// reads and record [SchemaVersion]: tables missing, half-migrated or of a
// later release are an error matching storage.ErrSchema that says to run
// [Migrate] (or apply [Schema]'s DDL). It reads only; call it at startup
// ([New] does no I/O).
func (s *Store) Check(ctx context.Context) error { return s.d.Check(ctx) }

// undefinedTable and undefinedColumn are the SQLSTATEs of a statement
// naming a table or a column that does not exist.
const (
	undefinedTable  = "42P01"
	undefinedColumn = "42703"
)

// Missing reports an undefined table or column.
func (dialect) Missing(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == undefinedTable || pgErr.Code == undefinedColumn)
}
