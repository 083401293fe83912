package custombackend_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"syscall"
	"testing"

	"github.com/statefold/statefold/examples/custombackend"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// faultConn wraps the store's Conn — its driver layer — and does to the
// next request what a network or a server would: one fault, armed by Arm,
// hits one request.
type faultConn struct {
	inner custombackend.Conn

	mu    sync.Mutex
	armed storagetest.FailureKind
}

// Do implements custombackend.Conn.
func (c *faultConn) Do(ctx context.Context, req custombackend.Request) error {
	c.mu.Lock()
	kind := c.armed
	c.armed = ""
	c.mu.Unlock()
	switch kind {
	case storagetest.NotSent: // the connection was refused
		return &custombackend.NetError{Err: syscall.ECONNREFUSED}
	case storagetest.DialTimeout: // not sent; the error matches context.DeadlineExceeded
		return &custombackend.NetError{Err: fmt.Errorf("dial tcp: i/o timeout: %w", context.DeadlineExceeded)}
	case storagetest.ResponseLost: // applied; the connection broke before the answer
		_ = c.inner.Do(ctx, req)
		return &custombackend.NetError{Sent: true, Err: io.ErrUnexpectedEOF}
	case storagetest.RolledBack:
		return &custombackend.ServerError{Code: 1213, Message: "deadlock found; the request was rolled back"}
	case storagetest.ContextEndedInFlight: // the request is slow; the caller gives up, the server applies it
		<-ctx.Done()
		_ = c.inner.Do(context.WithoutCancel(ctx), req)
		return &custombackend.NetError{Sent: true, Err: ctx.Err()}
	}
	return c.inner.Do(ctx, req)
}

// classificationHarness is what the matrix needs from the backend: the
// store over the wrapped Conn, and a way to arm the wrapper.
type classificationHarness struct {
	conn *faultConn
}

func (h *classificationHarness) Store(*testing.T) storage.Store { return custombackend.Open(h.conn) }

func (h *classificationHarness) Arm(_ *testing.T, kind storagetest.FailureKind, _ storagetest.Method) error {
	if kind == storagetest.ContextEndedBeforeSending {
		return nil // the call's context has ended: nothing is sent, nothing to arm
	}
	h.conn.mu.Lock()
	h.conn.armed = kind
	h.conn.mu.Unlock()
	return nil
}

// TestClassification runs the classification matrix: every failure kind
// the wrapper injects against every store method, each answer and whether
// the row was written checked against the documented one. With -v it logs
// "classification on custombackend: N cases, 0 wrong".
func TestClassification(t *testing.T) {
	h := &classificationHarness{conn: &faultConn{inner: custombackend.NewDB()}}
	storagetest.RunClassification(t, "custombackend", h)
}
