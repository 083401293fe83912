package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/statefold/statefold/storage"
)

// SchemaVersion is the version of the tables this release reads and
// writes, kept in the one row of the schema table. The first release's
// MySQL tables (v0.1.0) are version 1 and have no schema table.
const SchemaVersion = 2

// SchemaTable is the suffix of the table holding the version row.
const SchemaTable = "schema"

// membersCols are the columns of the members table.
var membersCols = []string{"queue", "state", "batch_id", "version", "added_at"}

// Check verifies that the four tables exist with every column this
// release reads and that the schema table records [SchemaVersion]. Every
// problem is an error matching storage.ErrSchema that says to run
// Migrate; an error reaching the server is classified as any read's.
func (s *Store) Check(ctx context.Context) error {
	for _, t := range []struct {
		name string
		cols []string
	}{{s.t.Batches, batchCols}, {s.t.Members, membersCols}, {s.t.Applies, applyCols}, {s.t.Operations, opCols}} {
		rows, err := s.query(ctx, "SELECT "+strings.Join(t.cols, ", ")+" FROM "+t.name+" LIMIT 0")
		if err == nil {
			rows.Close()
			err = rows.Err()
		}
		if err != nil {
			return s.checkErr(ctx, err, "table %s lacks what this release reads", t.name)
		}
	}
	v, err := s.Version(ctx)
	switch {
	case err != nil:
		return s.checkErr(ctx, err, "no schema version (tables of an earlier release, or a Migrate that did not finish)")
	case v < SchemaVersion:
		return fmt.Errorf("%s: check: schema version %d is older than this release's %d: run Migrate: %w",
			s.d.Name(), v, SchemaVersion, storage.ErrSchema)
	case v > SchemaVersion:
		return fmt.Errorf("%s: check: schema version %d is a later release's (this one reads %d): run that release, or Migrate of a release that knows it: %w",
			s.d.Name(), v, SchemaVersion, storage.ErrSchema)
	}
	return nil
}

// checkErr is a missing table, column or row as storage.ErrSchema (what
// says which), anything else as the failure of a read.
func (s *Store) checkErr(ctx context.Context, err error, format string, args ...any) error {
	if s.d.NoRows(err) || s.d.Missing(err) {
		return fmt.Errorf("%s: check: %s: %v: run Migrate: %w", s.d.Name(), fmt.Sprintf(format, args...), err, storage.ErrSchema)
	}
	return CallErr(ctx, s.d, "check", false, err)
}

// Version reads the schema version row.
func (s *Store) Version(ctx context.Context) (int64, error) {
	var v int64
	err := s.queryRow(ctx, "SELECT version FROM "+s.t.Schema+" WHERE id = 1").Scan(&v)
	return v, err
}

// TooNew is the error of a Migrate on tables of a later release: it
// changes nothing.
func TooNew(name string, v int64) error {
	return fmt.Errorf("%s: migrate: schema version %d is a later release's (this one writes %d): %w",
		name, v, SchemaVersion, storage.ErrSchema)
}
