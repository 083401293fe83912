package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
)

// invocation is one in-process run of the command.
type invocation struct {
	code           int
	stdout, stderr string
}

// runCmd runs the command with args and the environment vars (nothing
// else of the process's environment).
func runCmd(t *testing.T, vars map[string]string, args ...string) invocation {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, func(k string) string { return vars[k] })
	return invocation{code, out.String(), errb.String()}
}

func (inv invocation) want(t *testing.T, code int, args ...string) invocation {
	t.Helper()
	if inv.code != code {
		t.Fatalf("statefold %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), inv.code, code, inv.stdout, inv.stderr)
	}
	return inv
}

// decode parses stdout as one JSON value.
func (inv invocation) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(inv.stdout), v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, inv.stdout)
	}
}

func TestHelpAtEveryLevel(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"apply", "--help"}, {"queue", "help"}, {"store", "-h"},
		{"apply", "show", "--help"}, {"apply", "list", "--help"}, {"apply", "stop", "-h"}, {"apply", "release", "--help"}, {"apply", "reproject", "--help"},
		{"queue", "list", "--help"}, {"queue", "show", "--help"}, {"queue", "reconcile", "--help"},
		{"store", "migrate", "--help"}, {"store", "check", "--help"}, {"store", "schema", "--help"},
		{"apply", "show", "some-id", "--help"},
	} {
		inv := runCmd(t, nil, args...).want(t, exitOK, args...)
		if !strings.HasPrefix(inv.stdout, "usage: statefold") || inv.stderr != "" {
			t.Errorf("statefold %s: stdout %q, stderr %q: want the usage on stdout only", strings.Join(args, " "), inv.stdout, inv.stderr)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	badMachine := filepath.Join(dir, "machine.json")
	if err := os.WriteFile(badMachine, []byte(`{"states": ["a"], "terminal": ["z"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"apply"},
		{"apply", "bogus"},
		{"apply", "show"},
		{"apply", "show", "a", "b"},
		{"apply", "show", "a", "--bogus"},
		{"apply", "show", "a", "-o", "yaml"},
		{"apply", "show", "a", "--store", "oracle"},
		{"apply", "show", "a", "--store", "mysql"}, // no DSN anywhere
		{"apply", "show", "a", "--timeout", "0s"},
		{"apply", "show", strings.Repeat("x", 300)},
		{"apply", "list"},
		{"apply", "list", "--open"},
		{"apply", "list", "--open", "--namespace", "ns", "--shards", "100000"},
		{"queue", "list", "q"},
		{"queue", "list", "q", "--states", "a,b", "--state", "c"},
		{"queue", "reconcile", "q"},
		{"queue", "reconcile", "q", "--machine", badMachine},
		{"queue", "reconcile", "q", "--machine", filepath.Join(dir, "missing.json")},
		{"queue", "reconcile", "q", "--states", "a,b", "--transitions", "nocolon"},
		{"store", "check", "--store", "dynamo"}, // no endpoint, no AWS key
	} {
		inv := runCmd(t, nil, args...).want(t, exitUsage, args...)
		if !strings.Contains(inv.stderr, "statefold: ") {
			t.Errorf("statefold %s: stderr %q: want a message", strings.Join(args, " "), inv.stderr)
		}
	}
}

func TestMemoryStore(t *testing.T) {
	// Each run has its own empty memory store.
	runCmd(t, nil, "apply", "show", "nope").want(t, exitNotFound)
	runCmd(t, nil, "apply", "stop", "nope").want(t, exitNotFound)
	runCmd(t, nil, "queue", "show", "q", "b").want(t, exitNotFound)
	var list struct {
		Batches []any `json:"batches"`
	}
	runCmd(t, nil, "queue", "list", "q", "--state", "queued", "-o", "json").want(t, exitOK).decode(t, &list)
	if list.Batches == nil || len(list.Batches) != 0 {
		t.Errorf("empty queue: batches %v, want []", list.Batches)
	}
	inv := runCmd(t, nil, "store", "check").want(t, exitOK)
	if !strings.Contains(inv.stdout, "ok (probe)") {
		t.Errorf("store check on memory: %q", inv.stdout)
	}
	// Flags before the group and between the arguments.
	runCmd(t, nil, "--store", "memory", "apply", "-o", "json", "show", "--timeout", "5s", "nope").want(t, exitNotFound)
	runCmd(t, nil, "apply", "show", "--", "-dash-id").want(t, exitNotFound)
}

func TestSchema(t *testing.T) {
	for _, c := range []struct{ store, want string }{
		{"mysql", "CREATE TABLE IF NOT EXISTS `pfx_applies`"},
		{"postgres", `CREATE TABLE IF NOT EXISTS "pfx_applies"`},
		{"dynamo", "pfx_operations"},
	} {
		inv := runCmd(t, nil, "store", "schema", "--store", c.store, "--table-prefix", "pfx_").want(t, exitOK)
		if !strings.Contains(inv.stdout, c.want) {
			t.Errorf("store schema --store %s: no %q in\n%s", c.store, c.want, inv.stdout)
		}
		var v struct{ DDL string }
		runCmd(t, nil, "store", "schema", "--store", c.store, "--table-prefix", "pfx_", "-o", "json").want(t, exitOK).decode(t, &v)
		if !strings.Contains(v.DDL, c.want) {
			t.Errorf("store schema --store %s -o json: ddl %q", c.store, v.DDL)
		}
	}
	runCmd(t, nil, "store", "schema", "--store", "mysql", "--table-prefix", "bad prefix;").want(t, exitUsage)
}

func TestRedactDSN(t *testing.T) {
	for _, c := range []struct{ dsn, password, redacted string }{
		{"root:s3cret@tcp(127.0.0.1:3306)/test", "s3cret", "root:xxxxx@tcp(127.0.0.1:3306)/test"},
		{"root:p@ss/w:rd@tcp(db:3306)/test?parseTime=true", "p@ss/w:rd", "root:xxxxx@tcp(db:3306)/test?parseTime=true"},
		{"root@tcp(127.0.0.1:3306)/test", "", "root@tcp(127.0.0.1:3306)/test"},
		{"postgres://u:s3cret@h:5432/db?sslmode=disable", "s3cret", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"postgres://u:p%40ss@h/db", "p@ss", "postgres://u:xxxxx@h/db"},
		{"postgres://u@h/db?password=s3cret&sslmode=disable", "s3cret", "postgres://u@h/db?password=xxxxx&sslmode=disable"},
		{"postgres://u:s3cret@h:badport/db", "s3cret", "postgres://u:xxxxx@h:badport/db"},
		{"host=h user=u password=s3cret dbname=db", "s3cret", "host=h user=u password=xxxxx dbname=db"},
		{"host=h password='a \\'quoted\\' one' dbname=db", "a 'quoted' one", "host=h password=xxxxx dbname=db"},
	} {
		if got := dsnPassword(c.dsn); got != c.password {
			t.Errorf("dsnPassword(%q) = %q, want %q", c.dsn, got, c.password)
		}
		if got := redactDSN(c.dsn); got != c.redacted {
			t.Errorf("redactDSN(%q) = %q, want %q", c.dsn, got, c.redacted)
		}
	}
}

func TestRedactorWriter(t *testing.T) {
	r := newRedactor()
	r.add("p@ss word")
	r.add("abc") // too short to replace everywhere
	var b bytes.Buffer
	w := r.writer(&b)
	if _, err := w.Write([]byte("a p@ss word, p%40ss+word, p%40ss%20word, abc")); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "a xxxxx, xxxxx, xxxxx, abc"; got != want {
		t.Errorf("redacted %q, want %q", got, want)
	}
}

// TestHelpHidesDSN: a DSN given before --help is not printed whole as a
// flag default.
func TestHelpHidesDSN(t *testing.T) {
	inv := runCmd(t, nil, "--dsn", "root:s3cretPW@tcp(h:1)/db", "apply", "show", "--help").want(t, exitOK)
	if strings.Contains(inv.stdout, "s3cretPW") || !strings.Contains(inv.stdout, "xxxxx") {
		t.Errorf("--help shows the DSN unredacted:\n%s", inv.stdout)
	}
}

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{nil, exitOK},
		{usagef("bad"), exitUsage},
		{fmt.Errorf("get: %w", storage.ErrNotFound), exitNotFound},
		{fmt.Errorf("update: %w", storage.ErrConflict), exitConflict},
		{fmt.Errorf("stop: %w", applystate.ErrAmbiguous), exitConflict},
		{applystate.ErrOwned, exitConflict},
		{fmt.Errorf("check: %w", storage.ErrInvalid), exitFailed},
		{errors.New("connection refused"), exitFailed},
	} {
		if got := exitCode(c.err); got != c.code {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.code)
		}
	}
	// A table prefix the backend refuses is a usage error, found before any I/O.
	runCmd(t, nil, "apply", "show", "x", "--store", "mysql", "--dsn", "root@tcp(127.0.0.1:1)/test", "--table-prefix", "bad prefix;").want(t, exitUsage)
	runCmd(t, nil, "store", "check", "--store", "postgres", "--dsn", "postgres://u@127.0.0.1:1/test", "--table-prefix", "bad prefix;").want(t, exitUsage)
}

func TestMachineFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "machine.json")
	machine := `{"states": ["queued", "running", "done"], "terminal": ["done"], "transitions": {"queued": ["running"], "running": ["done"]}}`
	if err := os.WriteFile(path, []byte(machine), 0o600); err != nil {
		t.Fatal(err)
	}
	var list struct {
		States []string `json:"states"`
	}
	runCmd(t, nil, "queue", "list", "q", "--machine", path, "-o", "json").want(t, exitOK).decode(t, &list)
	if strings.Join(list.States, ",") != "queued,running" {
		t.Errorf("queue list --machine: states %v, want the non-terminal ones", list.States)
	}
	var rec struct {
		Scanned    *int     `json:"scanned"`
		Unresolved []string `json:"unresolved"`
	}
	runCmd(t, nil, "queue", "reconcile", "q", "--machine", path, "-o", "json").want(t, exitOK).decode(t, &rec)
	if rec.Scanned == nil || *rec.Scanned != 0 || rec.Unresolved == nil {
		t.Errorf("queue reconcile of an empty queue: %+v", rec)
	}
	// The same machine as flags; --machine and --states exclude each other;
	// a state outside the machine is refused.
	runCmd(t, nil, "queue", "reconcile", "q", "--states", "queued,running,done", "--terminal", "done", "--transitions", "queued:running;running:done").want(t, exitOK)
	runCmd(t, nil, "queue", "reconcile", "q", "--machine", path, "--states", "a").want(t, exitUsage)
	runCmd(t, nil, "queue", "list", "q", "--machine", path, "--state", "done").want(t, exitUsage)
	runCmd(t, nil, "queue", "reconcile", "q", "--machine", path, "--grace", "0s").want(t, exitUsage)
}

// TestBinary builds the command and checks that the process exits with
// run's codes.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "statefold")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, exitOK},
		{[]string{"apply", "show"}, exitUsage},
		{[]string{"apply", "show", "nope", "--store", "memory"}, exitNotFound},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.Env = []string{} // no STATEFOLD_* variable of the test's environment
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code {
			t.Errorf("statefold %s: exit code %d, want %d", strings.Join(c.args, " "), code, c.code)
		}
	}
}
