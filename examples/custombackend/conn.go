package custombackend

import (
	"context"
	"fmt"
	"sync"

	"github.com/statefold/statefold/storage"
)

// Conn is the example's driver layer: it carries one request to the
// database and brings its answer back. [Store] reaches its rows only
// through a Conn, as a real backend reaches its database only through a
// client or driver. A test wraps a Conn to inject what a network and a
// server do to requests (see classification_test.go).
type Conn interface {
	// Do sends req to the database, which runs it alone and atomically,
	// and returns req's own answer; or a [*NetError] when the connection
	// failed (its Sent says whether req had gone out), a [*ServerError]
	// when the server answered with an error and rolled req back, or an
	// error matching ctx's error when ctx ended (wrapped in a *NetError
	// whose Sent is false when req was not sent).
	Do(ctx context.Context, req Request) error
}

// Request is one request to the database: it reads and writes the tables
// and returns its answer.
type Request func(tx *Tables) error

// Tables are the database's tables, handed to a [Request].
type Tables struct {
	batches *table[storage.Batch]
	members *table[storage.Member]
	applies *table[storage.Apply]
	ops     *table[storage.Operation]
}

// DB is the example's database: versioned tables behind one mutex, each
// [Request] run alone. It is a [Conn] without a network in between; it is
// safe for concurrent use.
type DB struct {
	mu     sync.Mutex
	tables Tables
}

var _ Conn = (*DB)(nil)

// NewDB returns an empty database.
func NewDB() *DB {
	return &DB{tables: Tables{
		batches: newTable(storage.NormalizeBatch),
		members: newTable(storage.NormalizeMember),
		applies: newTable(storage.NormalizeApply),
		ops:     newTable(storage.NormalizeOperation),
	}}
}

// Do implements [Conn]: a request whose context has ended is not sent.
func (db *DB) Do(ctx context.Context, req Request) error {
	if err := ctx.Err(); err != nil {
		return &NetError{Err: err}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return req(&db.tables)
}

// NetError is a failure of the connection below the store: refused, reset,
// timed out, or broken before the answer came back.
type NetError struct {
	// Sent reports whether the request had gone out: one that was not sent
	// did not run; one that was may have run.
	Sent bool
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *NetError) Error() string {
	if e.Sent {
		return fmt.Sprintf("connection failed after the request was sent: %v", e.Err)
	}
	return fmt.Sprintf("connection failed before the request was sent: %v", e.Err)
}

// Unwrap returns the cause.
func (e *NetError) Unwrap() error { return e.Err }

// ServerError is the database's error answer to a request: the request
// failed there and was rolled back.
type ServerError struct {
	// Code is the database's error code.
	Code int
	// Message is the database's text.
	Message string
}

// Error implements error.
func (e *ServerError) Error() string {
	return fmt.Sprintf("server error %d: %s", e.Code, e.Message)
}
