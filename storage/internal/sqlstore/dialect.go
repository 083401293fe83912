// Package sqlstore is the SQL layer MySQL's and PostgreSQL's stores share:
// the statements, the compare-and-swap with its read-back, the row
// scanning, GetBatches' chunking and the classification of errors. A
// [Dialect] holds what differs: the connection, placeholders, time and key
// encodings, the member upsert and the server's error codes.
package sqlstore

import (
	"context"
	"time"
)

// Row is one row of a query: [Row.Scan] fails with the dialect's no-rows
// error when there was none.
type Row interface {
	// Scan copies the row's columns into dest.
	Scan(dest ...any) error
}

// Rows iterates a query's rows.
type Rows interface {
	// Next advances to the next row, false after the last or on an error.
	Next() bool
	// Scan copies the current row's columns into dest.
	Scan(dest ...any) error
	// Err is the error that ended the iteration, if any.
	Err() error
	// Close releases the rows; it may be called more than once.
	Close()
}

// Dialect is what one SQL server needs of the shared store.
type Dialect interface {
	// Name prefixes every error: "mysql", "postgres".
	Name() string

	// Exec runs a write statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// QueryRow runs a query that returns at most one row.
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Query runs a query.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// AddMember runs the statement of [Dialect.AddMemberSQL] and reports
	// whether a newer row is stored (and so nothing was written), with its
	// version when the server tells it (0 otherwise).
	AddMember(ctx context.Context, query string, args ...any) (newer bool, stored int64, err error)

	// Bind turns the '?' marks of a statement into the server's
	// placeholders.
	Bind(query string) string
	// TimeCol is the select expression of a time column.
	TimeCol(col string) string
	// InIDs is the parenthesized set of n ids after "id IN", with '?'
	// marks, and IDArgs its arguments.
	InIDs(n int) string
	// IDArgs are the arguments of InIDs(len(ids)).
	IDArgs(ids []string) []any
	// AddMemberSQL is the conditional upsert of a member row in table,
	// with marks for queue, state, batch_id, version and added_at: it
	// writes the row when absent or not newer than the given version.
	AddMemberSQL(table string) string

	// TimeArg encodes a time for a column (NULL for the zero time).
	TimeArg(t time.Time) any
	// ScanTime decodes what the driver hands over for a time column.
	ScanTime(src any) (time.Time, error)
	// KeyArg encodes a key, label or message for its column.
	KeyArg(s string) any

	// NoRows reports the error of a Row without a row.
	NoRows(err error) bool
	// Missing reports a statement naming a table or a column that does
	// not exist.
	Missing(err error) bool
	// Duplicate reports an insert of an existing primary key.
	Duplicate(err error) bool
	// Transient reports a failure to reach or be served by the server
	// (from a call whose context is live): calling again may succeed.
	Transient(err error) bool
	// Unsent reports a failure that surely came before the statement was
	// sent (no connection could be opened, or the driver says so).
	Unsent(err error) bool
	// Answered reports an error the server answered with: the statement
	// was rolled back.
	Answered(err error) bool
}
