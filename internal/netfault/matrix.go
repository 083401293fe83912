package netfault

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/statefold/statefold/internal/faultstore"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// Class is a class of store methods that answer a failure alike: one
// column of the classification matrix (faultstore.MethodClass, whose
// constants name the classes).
type Class = faultstore.MethodClass

// Call is one store call of the matrix: a method, on the rows seeded for
// its cell (see storagetest.ClassificationCell).
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
// cell per Class (see storagetest.ClassificationMatrix for the answers).
// "n/a" marks a kind that cannot happen on the backend.
type Matrix = storagetest.ClassificationMatrix

// NotApplicable marks a failure kind that cannot happen on a backend.
const NotApplicable = storagetest.NotApplicable

// sent is the first SQL statement (a piece of its text) and DynamoDB
// operation each store method sends.
var sent = map[storagetest.Method]struct{ statement, op string }{
	storagetest.GetBatch:        {"SELECT ", "GetItem"},
	storagetest.GetBatches:      {"SELECT ", "BatchGetItem"},
	storagetest.ListMembers:     {"SELECT ", "Query"},
	storagetest.GetApply:        {"SELECT ", "GetItem"},
	storagetest.GetOperation:    {"SELECT ", "GetItem"},
	storagetest.ListOperations:  {"SELECT ", "Query"},
	storagetest.CreateBatch:     {"INSERT INTO ", "PutItem"},
	storagetest.CreateApply:     {"INSERT INTO ", "PutItem"},
	storagetest.CreateOperation: {"INSERT INTO ", "PutItem"},
	storagetest.UpdateBatch:     {"UPDATE ", "PutItem"},
	storagetest.UpdateApply:     {"UPDATE ", "PutItem"},
	storagetest.UpdateOperation: {"UPDATE ", "PutItem"},
	storagetest.AddMember:       {"INSERT INTO ", "PutItem"},
	storagetest.RemoveMember:    {"DELETE FROM ", "DeleteItem"},
	storagetest.DeleteBatch:     {"DELETE FROM ", "DeleteItem"},
	storagetest.DeleteApply:     {"DELETE FROM ", "DeleteItem"},
	storagetest.DeleteOperation: {"DELETE FROM ", "DeleteItem"},
	// A store without a round trip of its own sends MoveBatch as AddMember
	// and then UpdateBatch.
	storagetest.MoveBatch: {"INSERT INTO ", "PutItem"},
}

// sentOn overrides sent on the backends whose statement for a method is
// their own: MoveBatch is one CALL of the schema's procedure on MySQL, one
// statement of two data-modifying WITH queries on PostgreSQL.
var sentOn = map[string]map[storagetest.Method]string{
	"mysql":    {storagetest.MoveBatch: "CALL "},
	"postgres": {storagetest.MoveBatch: "WITH "},
}

// Classify names err, returned by a call made with ctx, as the matrix does
// (storagetest.Classify).
func Classify(ctx context.Context, err error) string { return storagetest.Classify(ctx, err) }

// Classification requires want to equal the backend's table in the
// Markdown document at doc (so that the two cannot drift), and then runs
// storagetest.CheckClassification: every failure kind of faults against
// every store method (MoveBatch too when check offers storage.Mover), each
// cell on rows of its own seeded through check, each answer, and whether
// the write landed (read through check), compared with want; every row of
// want that is not "n/a" must have a fault. It logs the line make test
// prints, "classification on <backend>: N cases, W wrong", and fails t for
// each wrong cell.
func Classification(t *testing.T, backend, doc string, check storage.Store, want Matrix, faults []Fault) {
	t.Helper()
	documented, err := DocumentedMatrix(doc, backend)
	switch {
	case err != nil:
		t.Errorf("the classification table for %s: %v", backend, err)
	case !reflect.DeepEqual(want, documented):
		t.Errorf("the classification table for %s in %s differs from the test's:\n%s", backend, doc, diffMatrix(want, documented))
	}
	cfs := make([]storagetest.ClassificationFault, 0, len(faults))
	for _, f := range faults {
		cfs = append(cfs, storagetest.ClassificationFault{Kind: f.Kind, Arm: func(t *testing.T, c storagetest.ClassificationCell) (storage.Store, context.Context, func()) {
			statement, ok := sentOn[backend][c.Method]
			if !ok {
				statement = sent[c.Method].statement
			}
			return f.Arm(t, Call{Method: string(c.Method), Class: c.Method.Class(), Queue: c.Queue, ApplyID: c.ApplyID,
				Statement: statement, Op: sent[c.Method].op})
		}})
	}
	storagetest.CheckClassification(t, backend, check, want, cfs)
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
	var columns []string
	for _, c := range faultstore.MethodClasses() {
		columns = append(columns, c.String())
	}
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
			if header == 0 && !slices.Equal(cells[1:], columns) {
				return nil, fmt.Errorf("%s: %s table: columns %q, want the failure and %q", path, backend, cells, columns)
			}
			header++
			continue
		}
		if len(cells) != 1+len(columns) {
			return nil, fmt.Errorf("%s: %s table: row %q has %d cells", path, backend, line, len(cells))
		}
		var row storagetest.ClassificationRow
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
