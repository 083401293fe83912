package netfault

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

// Class is a class of store methods that answer a failure alike: one
// column of the classification matrix.
type Class int

// The method classes, in the matrix's column order.
const (
	Reads Class = iota
	Creates
	CompareAndSwaps
	AddMembers
	RemoveMembers
	numClasses
)

// classNames are the matrix's column headings.
var classNames = [numClasses]string{"reads", "creates", "compare-and-swaps", "AddMember", "RemoveMember"}

// String returns the class's column heading.
func (c Class) String() string { return classNames[c] }

// Call is one store call of the matrix: a method, on the rows seeded for
// its cell (batch Queue/"b", queued at version 1, its member row
// Queue/"queued"/"b" at version 1, apply ApplyID and its operation
// ApplyID/"o", pending at version 1).
type Call struct {
	// Method names the store method ("GetBatch", "UpdateApply", …).
	Method string
	// Class is its column.
	Class Class
	// Queue and ApplyID are the keys of the cell's rows.
	Queue, ApplyID string
	// Statement is a piece of the text of the SQL statement the call
	// sends first (for a proxy that picks it out), and Op the DynamoDB
	// operation it sends first.
	Statement, Op string

	do func(ctx context.Context, s storage.Store, c Call) error
}

// Fault is one failure kind below the store: one row of the matrix.
type Fault struct {
	// Kind is the row's name, as the documented table spells it.
	Kind string
	// Arm prepares the failure for one call and returns the store to call
	// (a new handle, or one whose faults are armed for c), the context to
	// call it with, and a function (or nil) run after the call returns and
	// before the rows are checked: release a lock, wait out a held request.
	// Arm may register cleanups on t, which ends with the cell.
	Arm func(t *testing.T, c Call) (s storage.Store, ctx context.Context, after func())
}

// Matrix is a backend's documented answers: for each failure kind, one
// cell per Class. A cell of a read is its answer; a cell of a write is its
// answer and whether the row was written ("U, not written"). "n/a" marks
// a kind that cannot happen on the backend.
//
// Answers: "ok" (success), "U" (storage.ErrUnavailable alone), "A+U"
// (storage.ErrAmbiguous and storage.ErrUnavailable), "A" (ErrAmbiguous
// alone, the native error reachable), "A+ctx" (ErrAmbiguous and the
// context's error, not ErrUnavailable), "ctx" (the context's error alone),
// "native" (the native error, no sentinel), "not found", "conflict".
// Written: "written", "not written", or "either" (the store cannot tell,
// and the test does not).
type Matrix map[string][numClasses]string

// NotApplicable marks a failure kind that cannot happen on a backend.
const NotApplicable = "n/a"

// calls returns the matrix's store calls, every method of storage.Store.
func calls() []Call {
	return []Call{
		{Method: "GetBatch", Class: Reads, Statement: "SELECT ", Op: "GetItem", do: func(ctx context.Context, s storage.Store, c Call) error {
			_, err := s.GetBatch(ctx, c.Queue, "b")
			return err
		}},
		{Method: "GetBatches", Class: Reads, Statement: "SELECT ", Op: "BatchGetItem", do: func(ctx context.Context, s storage.Store, c Call) error {
			_, err := s.GetBatches(ctx, c.Queue, []string{"b", "x"})
			return err
		}},
		{Method: "ListMembers", Class: Reads, Statement: "SELECT ", Op: "Query", do: func(ctx context.Context, s storage.Store, c Call) error {
			_, err := s.ListMembers(ctx, c.Queue, "queued")
			return err
		}},
		{Method: "GetApply", Class: Reads, Statement: "SELECT ", Op: "GetItem", do: func(ctx context.Context, s storage.Store, c Call) error {
			_, err := s.GetApply(ctx, c.ApplyID)
			return err
		}},
		{Method: "GetOperation", Class: Reads, Statement: "SELECT ", Op: "GetItem", do: func(ctx context.Context, s storage.Store, c Call) error {
			_, err := s.GetOperation(ctx, c.ApplyID, "o")
			return err
		}},
		{Method: "ListOperations", Class: Reads, Statement: "SELECT ", Op: "Query", do: func(ctx context.Context, s storage.Store, c Call) error {
			_, err := s.ListOperations(ctx, c.ApplyID)
			return err
		}},
		{Method: "CreateBatch", Class: Creates, Statement: "INSERT INTO ", Op: "PutItem", do: func(ctx context.Context, s storage.Store, c Call) error {
			_, err := s.CreateBatch(ctx, storage.Batch{Queue: c.Queue, ID: "n", State: "queued"})
			return err
		}},
		{Method: "CreateApply", Class: Creates, Statement: "INSERT INTO ", Op: "PutItem", do: func(ctx context.Context, s storage.Store, c Call) error {
			_, err := s.CreateApply(ctx, storage.Apply{ID: c.ApplyID + "n", State: "pending"})
			return err
		}},
		{Method: "CreateOperation", Class: Creates, Statement: "INSERT INTO ", Op: "PutItem", do: func(ctx context.Context, s storage.Store, c Call) error {
			_, err := s.CreateOperation(ctx, storage.Operation{ApplyID: c.ApplyID, ID: "n", State: "pending"})
			return err
		}},
		{Method: "UpdateBatch", Class: CompareAndSwaps, Statement: "UPDATE ", Op: "PutItem", do: func(ctx context.Context, s storage.Store, c Call) error {
			_, err := s.UpdateBatch(ctx, storage.Batch{Queue: c.Queue, ID: "b", State: "running"}, 1, "queued")
			return err
		}},
		{Method: "UpdateApply", Class: CompareAndSwaps, Statement: "UPDATE ", Op: "PutItem", do: func(ctx context.Context, s storage.Store, c Call) error {
			_, err := s.UpdateApply(ctx, storage.Apply{ID: c.ApplyID, State: "running"}, 1)
			return err
		}},
		{Method: "UpdateOperation", Class: CompareAndSwaps, Statement: "UPDATE ", Op: "PutItem", do: func(ctx context.Context, s storage.Store, c Call) error {
			_, err := s.UpdateOperation(ctx, storage.Operation{ApplyID: c.ApplyID, ID: "o", State: "running"}, 1)
			return err
		}},
		{Method: "AddMember", Class: AddMembers, Statement: "INSERT INTO ", Op: "PutItem", do: func(ctx context.Context, s storage.Store, c Call) error {
			return s.AddMember(ctx, storage.Member{Queue: c.Queue, State: "queued", BatchID: "b", Version: 2})
		}},
		{Method: "RemoveMember", Class: RemoveMembers, Statement: "DELETE FROM ", Op: "DeleteItem", do: func(ctx context.Context, s storage.Store, c Call) error {
			return s.RemoveMember(ctx, c.Queue, "queued", "b", 1)
		}},
	}
}

// Classify names err, returned by a call made with ctx, as the matrix does
// (see [Matrix]). The context's error counts only when ctx has ended: a
// dial or transport timeout matches context.DeadlineExceeded too.
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

// seed writes a cell's rows through check.
func seed(t *testing.T, check storage.Store, queue, apply string) {
	t.Helper()
	ctx := context.Background()
	_, err := check.CreateBatch(ctx, storage.Batch{Queue: queue, ID: "b", State: "queued"})
	require.NoError(t, err)
	require.NoError(t, check.AddMember(ctx, storage.Member{Queue: queue, State: "queued", BatchID: "b", Version: 1}))
	_, err = check.CreateApply(ctx, storage.Apply{ID: apply, State: "pending"})
	require.NoError(t, err)
	_, err = check.CreateOperation(ctx, storage.Operation{ApplyID: apply, ID: "o", State: "pending"})
	require.NoError(t, err)
}

// written reports, through check, whether the write of call c landed.
func written(t *testing.T, check storage.Store, c Call, queue, apply string) bool {
	t.Helper()
	ctx := context.Background()
	found := func(err error) bool {
		if errors.Is(err, storage.ErrNotFound) {
			return false
		}
		require.NoError(t, err)
		return true
	}
	switch c.Method {
	case "CreateBatch":
		_, err := check.GetBatch(ctx, queue, "n")
		return found(err)
	case "CreateApply":
		_, err := check.GetApply(ctx, apply+"n")
		return found(err)
	case "CreateOperation":
		_, err := check.GetOperation(ctx, apply, "n")
		return found(err)
	case "UpdateBatch":
		b, err := check.GetBatch(ctx, queue, "b")
		require.NoError(t, err)
		return b.Version == 2
	case "UpdateApply":
		a, err := check.GetApply(ctx, apply)
		require.NoError(t, err)
		return a.Version == 2
	case "UpdateOperation":
		op, err := check.GetOperation(ctx, apply, "o")
		require.NoError(t, err)
		return op.Version == 2
	case "AddMember", "RemoveMember":
		ms, err := check.ListMembers(ctx, queue, "queued")
		require.NoError(t, err)
		if c.Method == "RemoveMember" {
			return len(ms) == 0
		}
		return len(ms) == 1 && ms[0].Version == 2
	}
	return false
}

// landWait bounds how long a write the matrix expects to be written may
// take to land after its call returned (a statement held by the proxy).
const landWait = 5 * time.Second

// Classification runs every failure kind of faults against every store
// method, each cell on rows of its own seeded through check, and compares
// each answer, and whether the write landed (read through check), with
// want. It first requires want to equal the backend's table in the
// Markdown document at doc (so that the two cannot drift) and every row of want
// that is not "n/a" to have a fault. It logs the line make test prints,
// "classification on <backend>: N cases, W wrong", and fails t for each
// wrong cell.
func Classification(t *testing.T, backend, doc string, check storage.Store, want Matrix, faults []Fault) {
	t.Helper()
	documented, err := DocumentedMatrix(doc, backend)
	switch {
	case err != nil:
		t.Errorf("the classification table for %s: %v", backend, err)
	case !reflect.DeepEqual(want, documented):
		t.Errorf("the classification table for %s in %s differs from the test's:\n%s", backend, doc, diffMatrix(want, documented))
	}
	byKind := map[string]Fault{}
	for _, f := range faults {
		_, ok := want[f.Kind]
		require.True(t, ok, "fault %q has no row in the matrix", f.Kind)
		byKind[f.Kind] = f
	}
	for _, kind := range slices.Sorted(maps.Keys(want)) {
		_, ok := byKind[kind]
		row := want[kind]
		applicable := slices.ContainsFunc(row[:], func(c string) bool { return c != NotApplicable })
		require.Equal(t, applicable, ok, "%s: a fault must be run exactly for the rows that are not n/a", kind)
	}
	cases, wrong, n := 0, 0, 0
	for _, f := range faults {
		for _, c := range calls() {
			n++
			expect := want[f.Kind][c.Class]
			queue, apply := fmt.Sprintf("m%d", n), fmt.Sprintf("a%d", n)
			c.Queue, c.ApplyID = queue, apply
			cases++
			ok := t.Run(f.Kind+"/"+c.Method, func(t *testing.T) {
				seed(t, check, queue, apply)
				s, ctx, after := f.Arm(t, c)
				err := c.do(ctx, s, c)
				if after != nil {
					after()
				}
				got := Classify(ctx, err)
				_, wantWritten, _ := strings.Cut(expect, ", ")
				if c.Class != Reads {
					landed := written(t, check, c, queue, apply)
					if wantWritten == "written" {
						for deadline := time.Now().Add(landWait); !landed && time.Now().Before(deadline); {
							time.Sleep(20 * time.Millisecond)
							landed = written(t, check, c, queue, apply)
						}
					}
					switch {
					case wantWritten == "either":
						got += ", either"
					case landed:
						got += ", written"
					default:
						got += ", not written"
					}
					if wantWritten == "either" {
						t.Logf("landed: %v", landed)
					}
				}
				if got != expect {
					t.Errorf("%s × %s: got %q, documented %q (error: %v)", f.Kind, c.Method, got, expect, err)
				}
			})
			if !ok {
				wrong++
			}
		}
	}
	t.Logf("classification on %s: %d cases, %d wrong", backend, cases, wrong)
}

// DocumentedMatrix reads the classification table of backend from the
// Markdown document at path: the table that follows the line
// "<!-- classification: backend -->", its first column the failure kind
// and then one column per Class.
func DocumentedMatrix(path, backend string) (Matrix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	marker := "<!-- classification: " + backend + " -->"
	m := Matrix{}
	in, header := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == marker:
			in = true
			continue
		case !in:
			continue
		case !strings.HasPrefix(line, "|"):
			if len(m) > 0 || header > 0 {
				return m, nil
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		if header < 2 { // the heading and the alignment row
			if header == 0 && !slices.Equal(cells[1:], classNames[:]) {
				return nil, fmt.Errorf("%s: %s table: columns %q, want the failure and %q", path, backend, cells, classNames)
			}
			header++
			continue
		}
		if len(cells) != 1+int(numClasses) {
			return nil, fmt.Errorf("%s: %s table: row %q has %d cells", path, backend, line, len(cells))
		}
		var row [numClasses]string
		copy(row[:], cells[1:])
		m[cells[0]] = row
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !in {
		return nil, fmt.Errorf("%s: no %q", path, marker)
	}
	return m, nil
}

// diffMatrix lists the rows where the test's matrix and the documented one
// differ.
func diffMatrix(want, documented Matrix) string {
	var b strings.Builder
	for _, kind := range slices.Sorted(maps.Keys(want)) {
		if d, ok := documented[kind]; !ok || d != want[kind] {
			fmt.Fprintf(&b, "test: %s: %q\ndoc:  %s: %q (present %v)\n", kind, want[kind], kind, d, ok)
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(documented)) {
		if _, ok := want[kind]; !ok {
			fmt.Fprintf(&b, "doc only: %s\n", kind)
		}
	}
	return b.String()
}
