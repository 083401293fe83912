package postgres

import (
	"context"
	_ "embed" // schema.sql
	"fmt"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/internal/sqlstore"
)

//go:embed schema.sql
var schemaSQL string

// Schema returns the DDL that [Migrate] runs — the embedded schema.sql with
// the table prefix and schema of opts applied — for DBAs who apply
// migrations with their own tools. Statements are separated by ";\n".
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

// Migrate creates the four tables if they do not exist (CREATE TABLE IF NOT
// EXISTS; running it again is a no-op, also concurrently with another
// Migrate as far as PostgreSQL allows). The statements are those of the
// embedded schema.sql; see [Schema]. It never drops anything; the one
// change it makes to an existing table is to add the columns a newer
// release needs to an operations table created by an earlier one (owner,
// owner_token, owner_until and released_at: ALTER TABLE ... ADD COLUMN IF
// NOT EXISTS, with the definitions a new table gets, so that an upgraded
// table is the table Schema creates). Rows written before read with the
// new fields zero. The schema named by [WithSchema] must exist.
func Migrate(ctx context.Context, db DB, opts ...Option) error {
	if db == nil {
		return storage.Invalid("db", "nil DB")
	}
	c, err := newConfig(opts, false)
	if err != nil {
		return err
	}
	for _, stmt := range schemaStatements(c) {
		if _, err := db.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
	}
	return nil
}
