package storagetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/examples/custombackend"
	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// classificationEnv names the harness the child of
// TestRunClassificationCatchesWrongCells runs.
const classificationEnv = "STATEFOLD_CLASSIFICATION_HARNESS"

// wrapperConn is a Go wrapper of the example backend's driver layer that
// injects each failure kind its own way: wrong says which kinds it
// injects as errors the store cannot classify (plain errors), or lands
// anyway.
type wrapperConn struct {
	inner custombackend.Conn
	// plain: every injected failure is a plain error; lands: a request
	// that "fails before it is sent" runs anyway.
	plain, lands bool

	mu    sync.Mutex
	armed storagetest.FailureKind
}

func (c *wrapperConn) Do(ctx context.Context, req custombackend.Request) error {
	c.mu.Lock()
	kind := c.armed
	c.armed = ""
	c.mu.Unlock()
	fail := func(e error) error {
		if c.plain {
			return errors.New("injected")
		}
		return e
	}
	switch kind {
	case storagetest.NotSent:
		if c.lands {
			_ = c.inner.Do(ctx, req)
		}
		return fail(&custombackend.NetError{Err: errors.New("refused")})
	case storagetest.DialTimeout:
		return fail(&custombackend.NetError{Err: context.DeadlineExceeded})
	case storagetest.ResponseLost:
		_ = c.inner.Do(ctx, req)
		return fail(&custombackend.NetError{Sent: true, Err: errors.New("reset")})
	case storagetest.RolledBack:
		return fail(&custombackend.ServerError{Code: 1, Message: "rolled back"})
	case storagetest.ContextEndedInFlight:
		<-ctx.Done()
		return ctx.Err()
	}
	return c.inner.Do(ctx, req)
}

type wrapperHarness struct{ conn *wrapperConn }

func (h *wrapperHarness) Store(*testing.T) storage.Store { return custombackend.Open(h.conn) }

func (h *wrapperHarness) Arm(_ *testing.T, kind storagetest.FailureKind, _ storagetest.Method) error {
	if kind != storagetest.ContextEndedBeforeSending {
		h.conn.mu.Lock()
		h.conn.armed = kind
		h.conn.mu.Unlock()
	}
	return nil
}

// classificationChild runs the matrix on the harness named by name.
func classificationChild(t *testing.T, name string) {
	conn := &wrapperConn{inner: custombackend.NewDB()}
	var opts []storagetest.ClassificationOption
	switch name {
	case "correct":
	case "plain":
		conn.plain = true
	case "lands":
		conn.lands = true
	case "declared":
		opts = append(opts, storagetest.Impossible(storagetest.RolledBack, "the server never rolls a request back", storagetest.UpdateBatch, storagetest.GetApply))
	case "no-why":
		opts = append(opts, storagetest.Impossible(storagetest.RolledBack, " "))
	default:
		t.Fatalf("%s=%q names no harness", classificationEnv, name)
	}
	storagetest.RunClassification(t, name, &wrapperHarness{conn: conn}, opts...)
}

// RunClassification fails each cell whose answer or row is not the
// documented one, naming the kind, the method, what was expected and what
// came back; it logs the cells declared impossible, with why, and does not
// run them; it refuses a declaration that does not say why. Each harness
// runs in a child test process: this test, re-executed with
// STATEFOLD_CLASSIFICATION_HARNESS set.
func TestRunClassificationCatchesWrongCells(t *testing.T) {
	if name := os.Getenv(classificationEnv); name != "" {
		classificationChild(t, name)
		return
	}
	cases := []struct {
		name   string
		pass   bool
		output []string
	}{
		{"correct", true, []string{"classification on correct: 102 cases, 0 wrong"}},
		{"plain", false, []string{
			"classification on plain: 102 cases, 68 wrong",
			`request failed before it was sent × GetBatch: got "native", documented "U"`,
			`response lost after the write applied × UpdateBatch: got "native, written", documented "A+U, written"`,
			`server error, rolled back × RemoveMember: got "native, not written", documented "U, not written"`,
		}},
		{"lands", false, []string{
			"classification on lands: 102 cases, 11 wrong",
			`request failed before it was sent × CreateApply: got "U, written", documented "U, not written"`,
		}},
		{"declared", true, []string{
			"classification on declared: 100 cases, 0 wrong",
			"server error, rolled back × UpdateBatch: declared impossible: the server never rolls a request back",
			"server error, rolled back × GetApply: declared impossible: the server never rolls a request back",
		}},
		{"no-why", false, []string{`Impossible("server error, rolled back"): say why the cells cannot be met`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestRunClassificationCatchesWrongCells$", "-test.v", "-test.count=1", "-test.timeout=2m")
			cmd.Env = append(os.Environ(), classificationEnv+"="+c.name)
			out, err := cmd.CombinedOutput()
			if c.pass {
				require.NoError(t, err, "%s", out)
			} else {
				require.Error(t, err, "the matrix must fail on the %s harness:\n%s", c.name, out)
			}
			for _, want := range c.output {
				require.True(t, strings.Contains(string(out), want), "the output of the %s harness holds %q:\n%s", c.name, want, out)
			}
		})
	}
}

// The answers RunClassification expects are the documented ones: each
// kind's row is the row of the same name in the PostgreSQL table of
// docs/design.md (a request that failed before it was sent is answered as
// a refused connection), whose answers are the store contract's own.
func TestFailureKindsAnsweredAsDocumented(t *testing.T) {
	doc, err := netfault.DocumentedMatrix("../docs/design.md", "postgres")
	require.NoError(t, err)
	for _, k := range storagetest.FailureKinds() {
		row := string(k)
		if k == storagetest.NotSent {
			row = "refused connection"
		}
		require.Contains(t, doc, row)
		require.Equal(t, doc[row], k.Want(), "%s", k)
	}
}
