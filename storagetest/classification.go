package storagetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

// ClassificationRow is one failure kind's row of a [ClassificationMatrix]:
// one cell per class of store methods that answer a failure alike, in this
// order: reads (GetBatch, GetBatches, ListMembers, GetApply, GetOperation,
// ListOperations), creates (CreateBatch, CreateApply, CreateOperation),
// compare-and-swaps (UpdateBatch, UpdateApply, UpdateOperation, and
// MoveBatch on a store that offers storage.Mover), AddMember and
// RemoveMember.
type ClassificationRow [5]string

// ClassificationMatrix is a backend's documented answers: for each failure
// kind below the store, one [ClassificationRow]. A cell of a read is its
// answer; a cell of a write is its answer and whether the row was written
// ("U, not written"). [NotApplicable] marks a cell the backend cannot meet.
//
// Answers, as [Classify] names them: "ok" (success), "U"
// (storage.ErrUnavailable alone), "A+U" (storage.ErrAmbiguous and
// storage.ErrUnavailable), "A" (ErrAmbiguous alone, the native error
// reachable), "A+ctx" (ErrAmbiguous and the context's error, not
// ErrUnavailable), "ctx" (the context's error alone), "native" (the native
// error, no sentinel), "not found" (storage.ErrNotFound), "conflict"
// (storage.ErrConflict), "already exists" (storage.ErrAlreadyExists).
// Written: "written", "not written", or "either" (the store cannot tell,
// and the matrix checks the answer only).
type ClassificationMatrix map[string]ClassificationRow

// NotApplicable is the cell of a failure kind that cannot happen on a
// backend.
const NotApplicable = "n/a"

// Classify names err, returned by a store call made with ctx, as a
// [ClassificationMatrix] cell does. The context's error counts only when
// ctx has ended: a dial or transport timeout matches
// context.DeadlineExceeded too, and is not the caller's.
func Classify(ctx context.Context, err error) string {
	if err == nil {
		return "ok"
	}
	ctxErr := ctx.Err() != nil && errors.Is(err, ctx.Err())
	a, u := errors.Is(err, storage.ErrAmbiguous), errors.Is(err, storage.ErrUnavailable)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return "not found"
	case errors.Is(err, storage.ErrConflict):
		return "conflict"
	case errors.Is(err, storage.ErrAlreadyExists):
		return "already exists"
	case a && u && !ctxErr:
		return "A+U"
	case a && ctxErr && !u:
		return "A+ctx"
	case a && !u && !ctxErr:
		return "A"
	case u && !a && !ctxErr:
		return "U"
	case ctxErr && !a && !u:
		return "ctx"
	case !a && !u:
		return "native"
	}
	return fmt.Sprintf("mixed (ambiguous %v, unavailable %v, context %v)", a, u, ctxErr)
}

// ClassificationCell is one cell of the matrix being run: a failure kind,
// and a store method called on rows seeded for the cell alone. The rows:
// batch Queue/"b", queued at version 1, its member row Queue/"queued"/"b"
// at version 1, apply ApplyID, pending at version 1, and its operation
// ApplyID/"o", pending at version 1. The writes create batch Queue/"n",
// apply ApplyID+"n" and operation ApplyID/"n", move the seeded rows to
// running at version 1, upsert the member row at version 2 and remove it at
// most at version 1; MoveBatch moves the batch to running (expected at
// version 1, queued) with its row Queue/"running"/"b" at version 2, and is
// written when the batch's compare-and-swap landed.
type ClassificationCell struct {
	// Kind is the failure kind: the matrix's row.
	Kind string
	// Method is the store method called.
	Method Method
	// Queue and ApplyID key the cell's rows.
	Queue, ApplyID string
}

// ClassificationFault arms one failure kind of a [ClassificationMatrix]
// for the cells of its row.
type ClassificationFault struct {
	// Kind is the matrix's row.
	Kind string
	// Arm prepares the failure for one cell and returns the store to call
	// (one whose fault is armed for the cell's call), the context to call it
	// with, and a function (or nil) run after the call returns and before
	// the rows are read back: release a lock, wait out a held request. Arm
	// may register cleanups on t, which ends with the cell.
	Arm func(t *testing.T, c ClassificationCell) (s storage.Store, ctx context.Context, after func())
}

// classificationCall calls method m for the cell's rows.
func classificationCall(ctx context.Context, s storage.Store, m Method, queue, apply string) error {
	var err error
	switch m {
	case GetBatch:
		_, err = s.GetBatch(ctx, queue, "b")
	case GetBatches:
		_, err = s.GetBatches(ctx, queue, []string{"b", "x"})
	case ListMembers:
		_, err = s.ListMembers(ctx, queue, "queued")
	case GetApply:
		_, err = s.GetApply(ctx, apply)
	case GetOperation:
		_, err = s.GetOperation(ctx, apply, "o")
	case ListOperations:
		_, err = s.ListOperations(ctx, apply)
	case CreateBatch:
		_, err = s.CreateBatch(ctx, storage.Batch{Queue: queue, ID: "n", State: "queued"})
	case CreateApply:
		_, err = s.CreateApply(ctx, storage.Apply{ID: apply + "n", State: "pending"})
	case CreateOperation:
		_, err = s.CreateOperation(ctx, storage.Operation{ApplyID: apply, ID: "n", State: "pending"})
	case UpdateBatch:
		_, err = s.UpdateBatch(ctx, storage.Batch{Queue: queue, ID: "b", State: "running"}, 1, "queued")
	case UpdateApply:
		_, err = s.UpdateApply(ctx, storage.Apply{ID: apply, State: "running"}, 1)
	case UpdateOperation:
		_, err = s.UpdateOperation(ctx, storage.Operation{ApplyID: apply, ID: "o", State: "running"}, 1)
	case MoveBatch:
		mv, ok := s.(storage.Mover)
		if !ok {
			return fmt.Errorf("storagetest: the cell's store %T does not offer storage.Mover", s)
		}
		_, err = classificationMove(ctx, mv, queue)
	case DeleteBatch:
		err = s.DeleteBatch(ctx, queue, "b", 1)
	case DeleteApply:
		err = s.DeleteApply(ctx, apply, 1)
	case DeleteOperation:
		err = s.DeleteOperation(ctx, apply, "o", 1)
	case AddMember:
		err = s.AddMember(ctx, storage.Member{Queue: queue, State: "queued", BatchID: "b", Version: 2})
	case RemoveMember:
		err = s.RemoveMember(ctx, queue, "queued", "b", 1)
	default:
		err = fmt.Errorf("storagetest: no classification call for method %q", m)
	}
	return err
}

// classificationMove moves the batch of queue's cell to running, from
// queued at version 1, with its row in running at version 2.
func classificationMove(ctx context.Context, mv storage.Mover, queue string) (storage.Batch, error) {
	return mv.MoveBatch(ctx, storage.Member{Queue: queue, State: "running", BatchID: "b", Version: 2},
		storage.Batch{Queue: queue, ID: "b", State: "running"}, 1, "queued")
}

// classificationMethods returns the methods the matrix calls on check:
// [Methods], and [MoveBatch] when check offers [storage.Mover] — its type
// has the method, and a call with an ended context does not answer
// errors.ErrUnsupported, as storage.Checked does over a driver without it.
func classificationMethods(check storage.Store) []Method {
	ms := Methods()
	mv, ok := check.(storage.Mover)
	if !ok {
		return ms
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := classificationMove(ctx, mv, UniqueID("mv"))
	if errors.Is(err, errors.ErrUnsupported) {
		return ms
	}
	return append(ms, MoveBatch)
}

// classificationSeed writes a cell's rows through check.
func classificationSeed(t *testing.T, check storage.Store, queue, apply string) {
	t.Helper()
	ctx := context.Background()
	_, err := check.CreateBatch(ctx, storage.Batch{Queue: queue, ID: "b", State: "queued"})
	require.NoError(t, err, "seed the cell's batch")
	require.NoError(t, check.AddMember(ctx, storage.Member{Queue: queue, State: "queued", BatchID: "b", Version: 1}), "seed the cell's member row")
	_, err = check.CreateApply(ctx, storage.Apply{ID: apply, State: "pending"})
	require.NoError(t, err, "seed the cell's apply")
	_, err = check.CreateOperation(ctx, storage.Operation{ApplyID: apply, ID: "o", State: "pending"})
	require.NoError(t, err, "seed the cell's operation")
}

// classificationWritten reports, read through check, whether the write m
// of a cell landed.
func classificationWritten(t *testing.T, check storage.Store, m Method, queue, apply string) bool {
	t.Helper()
	ctx := context.Background()
	found := func(err error) bool {
		if errors.Is(err, storage.ErrNotFound) {
			return false
		}
		require.NoError(t, err, "read the cell's rows back")
		return true
	}
	switch m {
	case CreateBatch:
		_, err := check.GetBatch(ctx, queue, "n")
		return found(err)
	case CreateApply:
		_, err := check.GetApply(ctx, apply+"n")
		return found(err)
	case CreateOperation:
		_, err := check.GetOperation(ctx, apply, "n")
		return found(err)
	case UpdateBatch, MoveBatch:
		b, err := check.GetBatch(ctx, queue, "b")
		require.NoError(t, err, "read the cell's batch back")
		return b.Version == 2
	case UpdateApply:
		a, err := check.GetApply(ctx, apply)
		require.NoError(t, err, "read the cell's apply back")
		return a.Version == 2
	case UpdateOperation:
		op, err := check.GetOperation(ctx, apply, "o")
		require.NoError(t, err, "read the cell's operation back")
		return op.Version == 2
	case DeleteBatch:
		_, err := check.GetBatch(ctx, queue, "b")
		return !found(err)
	case DeleteApply:
		_, err := check.GetApply(ctx, apply)
		return !found(err)
	case DeleteOperation:
		_, err := check.GetOperation(ctx, apply, "o")
		return !found(err)
	case AddMember, RemoveMember:
		ms, err := check.ListMembers(ctx, queue, "queued")
		require.NoError(t, err, "read the cell's member rows back")
		if m == RemoveMember {
			return len(ms) == 0
		}
		return len(ms) == 1 && ms[0].Version == 2
	}
	return false
}

// classificationLandWait bounds how long a write the matrix expects to be
// written may take to land after its call returned (a request held below
// the store).
const classificationLandWait = 5 * time.Second

// cellKey names one cell for a declaration.
type cellKey struct {
	kind   string
	method Method
}

// CheckClassification runs every failure kind of faults against every
// method of [storage.Store] ([Methods]), and against [MoveBatch] (in the
// compare-and-swaps' column) when check offers [storage.Mover], each cell
// on rows of its own seeded through check, and compares each answer
// ([Classify]), and whether the write landed (read back through check),
// with want. Every row of want that is not all [NotApplicable] must have
// exactly one fault, and every fault a row; a [NotApplicable] cell is not
// run. The cells run one at a time. It logs the line "classification on
// <backend>: N cases, W wrong" and fails t for each wrong cell, naming the
// kind, the method, the documented answer and the one that came back; it
// returns N and W.
//
// CheckClassification is the runner for failures injected anywhere below
// a store (a proxy, a server's own locks and timeouts). A backend whose
// failures a Go wrapper below the store can inject runs
// [RunClassification], which knows the answers.
func CheckClassification(t *testing.T, backend string, check storage.Store, want ClassificationMatrix, faults []ClassificationFault) (cases, wrong int) {
	t.Helper()
	return runClassification(t, backend, check, want, faults, nil)
}

// runClassification is [CheckClassification] with the cells declared
// impossible, and why, logged and not run.
func runClassification(t *testing.T, backend string, check storage.Store, want ClassificationMatrix, faults []ClassificationFault, impossible map[cellKey]string) (cases, wrong int) {
	t.Helper()
	byKind := map[string]ClassificationFault{}
	for _, f := range faults {
		_, ok := want[f.Kind]
		require.True(t, ok, "fault %q has no row in the matrix", f.Kind)
		_, dup := byKind[f.Kind]
		require.False(t, dup, "fault %q is given twice", f.Kind)
		require.NotNil(t, f.Arm, "fault %q has no Arm", f.Kind)
		byKind[f.Kind] = f
	}
	for _, kind := range slices.Sorted(maps.Keys(want)) {
		_, ok := byKind[kind]
		row := want[kind]
		applicable := slices.ContainsFunc(row[:], func(c string) bool { return c != NotApplicable })
		require.Equal(t, applicable, ok, "%s: a fault must be run exactly for the rows that are not all n/a", kind)
	}
	run := UniqueID("cl")
	n := 0
	methods := classificationMethods(check)
	for _, f := range faults {
		for _, m := range methods {
			n++
			expect := want[f.Kind][m.Class()]
			if why, ok := impossible[cellKey{f.Kind, m}]; ok {
				t.Logf("%s × %s: declared impossible: %s", f.Kind, m, why)
				continue
			}
			if expect == NotApplicable {
				continue
			}
			queue, apply := fmt.Sprintf("%s-m%d", run, n), fmt.Sprintf("%s-a%d", run, n)
			cases++
			ok := t.Run(f.Kind+"/"+string(m), func(t *testing.T) {
				classificationCell(t, check, f, m, expect, queue, apply)
			})
			if !ok {
				wrong++
			}
		}
	}
	t.Logf("classification on %s: %d cases, %d wrong", backend, cases, wrong)
	return cases, wrong
}

// classificationCell runs one cell and fails t when its answer, or whether
// its write landed, is not expect.
func classificationCell(t *testing.T, check storage.Store, f ClassificationFault, m Method, expect, queue, apply string) {
	t.Helper()
	classificationSeed(t, check, queue, apply)
	s, ctx, after := f.Arm(t, ClassificationCell{Kind: f.Kind, Method: m, Queue: queue, ApplyID: apply})
	err := classificationCall(ctx, s, m, queue, apply)
	if after != nil {
		after()
	}
	got := Classify(ctx, err)
	_, wantWritten, _ := strings.Cut(expect, ", ")
	if m.IsWrite() {
		landed := classificationWritten(t, check, m, queue, apply)
		if wantWritten == "written" {
			for deadline := time.Now().Add(classificationLandWait); !landed && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
				landed = classificationWritten(t, check, m, queue, apply)
			}
		}
		switch {
		case wantWritten == "either":
			got += ", either"
			t.Logf("landed: %v", landed)
		case landed:
			got += ", written"
		default:
			got += ", not written"
		}
	}
	if got != expect {
		t.Errorf("%s × %s: got %q, documented %q (error: %v)", f.Kind, m, got, expect, err)
	}
}

// FailureKind is a failure that a Go wrapper below a store — around its
// client, driver or connection — can inject into the store's next request:
// one row of the matrix [RunClassification] runs.
type FailureKind string

// The failure kinds a Go wrapper can inject, named as the rows of the
// built-in backends' classification tables name them.
const (
	// NotSent: the request fails before it is sent (a refused connection),
	// and the wrapper's error says so. Nothing ran: reads and writes are
	// storage.ErrUnavailable alone, nothing written.
	NotSent FailureKind = "request failed before it was sent"
	// DialTimeout: the connection's dial times out, so the request is not
	// sent; the wrapper's error matches context.DeadlineExceeded although
	// the caller's context has not ended. The limit was not the caller's:
	// reads and writes are storage.ErrUnavailable alone, nothing written (a
	// store that tells the caller's deadline by the error's type answers
	// "ctx" here).
	DialTimeout FailureKind = "dial timeout"
	// ResponseLost: the request is applied and its response lost (the
	// connection breaks after the server answered). Reads are
	// ErrUnavailable; writes ErrAmbiguous and ErrUnavailable, written.
	ResponseLost FailureKind = "response lost after the write applied"
	// RolledBack: the server answers with an error and rolls the request
	// back. Reads and writes are ErrUnavailable alone, nothing written.
	RolledBack FailureKind = "server error, rolled back"
	// ContextEndedBeforeSending: the caller's context has ended before the
	// store sends its request. [RunClassification] calls the store with a
	// context already canceled; the store (or its driver) sends nothing and
	// returns the context's error alone, neither ErrAmbiguous nor
	// ErrUnavailable.
	ContextEndedBeforeSending FailureKind = "caller's context ended before sending"
	// ContextEndedInFlight: the caller's context ends while the request is
	// in flight. [RunClassification] calls the store with a context whose
	// deadline is short; the wrapper holds the request until that context
	// ends, then applies it or not, and returns the context's error. Reads
	// are the context's error alone; writes ErrAmbiguous and the context's
	// error (not ErrUnavailable), written or not.
	ContextEndedInFlight FailureKind = "caller's context ended in flight"
)

// FailureKinds returns every [FailureKind] a Go wrapper can inject, in the
// order [RunClassification] runs them.
func FailureKinds() []FailureKind {
	return []FailureKind{NotSent, DialTimeout, ResponseLost, RolledBack, ContextEndedBeforeSending, ContextEndedInFlight}
}

// Want returns the documented answer of every class of methods to the kind:
// the row of the matrix [RunClassification] checks.
func (k FailureKind) Want() ClassificationRow {
	switch k {
	case NotSent, DialTimeout, RolledBack:
		return ClassificationRow{"U", "U, not written", "U, not written", "U, not written", "U, not written"}
	case ResponseLost:
		return ClassificationRow{"U", "A+U, written", "A+U, written", "A+U, written", "A+U, written"}
	case ContextEndedBeforeSending:
		return ClassificationRow{"ctx", "ctx, not written", "ctx, not written", "ctx, not written", "ctx, not written"}
	case ContextEndedInFlight:
		return ClassificationRow{"ctx", "A+ctx, either", "A+ctx, either", "A+ctx, either", "A+ctx, either"}
	}
	return ClassificationRow{NotApplicable, NotApplicable, NotApplicable, NotApplicable, NotApplicable}
}

// inFlightDeadline is how long a call of the [ContextEndedInFlight] row
// has before its context ends.
const inFlightDeadline = 50 * time.Millisecond

// ClassificationHarness is what a backend's author implements to run the
// classification matrix on their store ([RunClassification]): the store,
// whose requests go through a Go wrapper of the store's own client or
// driver layer, and a way to arm that wrapper.
type ClassificationHarness interface {
	// Store returns the store under test; it is called once. The matrix
	// seeds each cell's rows through it, calls one method, and reads the
	// rows back through it, one cell at a time.
	Store(t *testing.T) storage.Store
	// Arm arms one fault of kind for the next request the store sends
	// below itself, on behalf of method m, which the matrix calls next: the
	// fault hits that one request and no later one. For
	// [ContextEndedBeforeSending] the call's context has already ended and
	// Arm may arm nothing (a request sent anyway would land, and the row
	// read back says so). For [ContextEndedInFlight] the call's context
	// ends 50ms after the call: the wrapper holds the request until it has
	// ended, then applies it or not, and returns the context's error. An
	// error from Arm fails the cell.
	Arm(t *testing.T, kind FailureKind, m Method) error
}

// ClassificationOption configures [RunClassification].
type ClassificationOption func(*classificationConfig)

type classificationConfig struct {
	impossible map[cellKey]string
	errs       []string
}

// Impossible declares the cells of kind that the backend cannot meet —
// the methods given ([MoveBatch] among them, for a store that offers it),
// or every method when none are — and why: the failure cannot happen
// there, or the wrapper cannot inject it there. The cells are logged with
// why and not run. Why must not be empty.
func Impossible(kind FailureKind, why string, methods ...Method) ClassificationOption {
	return func(c *classificationConfig) {
		if strings.TrimSpace(why) == "" {
			c.errs = append(c.errs, fmt.Sprintf("Impossible(%q): say why the cells cannot be met", kind))
			return
		}
		if !slices.Contains(FailureKinds(), kind) {
			c.errs = append(c.errs, fmt.Sprintf("Impossible(%q): not a failure kind a wrapper can inject", kind))
			return
		}
		all := append(Methods(), MoveBatch)
		if len(methods) == 0 {
			methods = all
		}
		for _, m := range methods {
			if !slices.Contains(all, m) {
				c.errs = append(c.errs, fmt.Sprintf("Impossible(%q): unknown method %q", kind, m))
				continue
			}
			c.impossible[cellKey{string(kind), m}] = why
		}
	}
}

// RunClassification runs the classification matrix of the failure kinds a
// Go wrapper can inject ([FailureKinds]) on h's store: every kind against
// every method of [storage.Store], and against [MoveBatch] when the store
// offers [storage.Mover] (see [CheckClassification]), each cell on rows of
// its own, the answer compared with the kind's documented one
// ([FailureKind.Want]) and, for a write, the row read back (written or
// not). The cells declared
// [Impossible] are logged with their reason and not run. Each wrong cell
// fails t, naming the kind, the method, what was expected and what came
// back; the line "classification on <backend>: N cases, W wrong" is
// logged. It returns N and W.
func RunClassification(t *testing.T, backend string, h ClassificationHarness, opts ...ClassificationOption) (cases, wrong int) {
	t.Helper()
	cfg := classificationConfig{impossible: map[cellKey]string{}}
	for _, o := range opts {
		o(&cfg)
	}
	require.Empty(t, cfg.errs, "classification options")
	s := h.Store(t)
	require.NotNil(t, s, "the harness's store")
	want := ClassificationMatrix{}
	var faults []ClassificationFault
	for _, kind := range FailureKinds() {
		want[string(kind)] = kind.Want()
		faults = append(faults, ClassificationFault{Kind: string(kind), Arm: func(t *testing.T, c ClassificationCell) (storage.Store, context.Context, func()) {
			var ctx context.Context
			var cancel context.CancelFunc
			if kind == ContextEndedInFlight {
				ctx, cancel = context.WithTimeout(context.Background(), inFlightDeadline)
			} else {
				ctx, cancel = context.WithCancel(context.Background())
			}
			t.Cleanup(cancel)
			if kind == ContextEndedBeforeSending {
				cancel()
			}
			require.NoError(t, h.Arm(t, kind, c.Method), "arm %s for %s", kind, c.Method)
			return s, ctx, nil
		}})
	}
	return runClassification(t, backend, s, want, faults, cfg.impossible)
}
