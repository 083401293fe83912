package mysql

import (
	"context"
	"database/sql"
	_ "embed" // schema.sql
	"fmt"
	"strings"

	"github.com/statefold/statefold/storage"
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
	return strings.Join(schemaStatements(c), ";\n\n") + ";\n", nil
}

// schemaStatements splits the embedded schema into statements, dropping
// comment lines and substituting the prefix of every quoted table name.
func schemaStatements(c config) []string {
	var body strings.Builder
	for line := range strings.Lines(schemaSQL) {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		body.WriteString(line)
	}
	ddl := strings.ReplaceAll(body.String(), "`"+DefaultTablePrefix, "`"+c.prefix)
	var out []string
	for stmt := range strings.SplitSeq(ddl, ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

// Migrate creates the four tables if they do not exist (CREATE TABLE IF NOT
// EXISTS; running it again is a no-op). The statements are those of the
// embedded schema.sql; see [Schema]. It never drops anything; the one
// change it makes to an existing table is to add a column a newer release
// needs: the operations table of v0.1.0 gains projected (BOOLEAN NOT NULL
// DEFAULT FALSE, an online ALTER TABLE ... ADD COLUMN).
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
	// Tables created by v0.1.0 lack operations.projected.
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.COLUMNS"+
		" WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'projected'",
		c.prefix+"operations").Scan(&n); err != nil {
		return fmt.Errorf("mysql: migrate: %w", err)
	}
	if n == 0 {
		if _, err := db.ExecContext(ctx, "ALTER TABLE "+c.table("operations")+
			" ADD COLUMN projected BOOLEAN NOT NULL DEFAULT FALSE"); err != nil {
			return fmt.Errorf("mysql: migrate: add operations.projected: %w", err)
		}
	}
	return nil
}
