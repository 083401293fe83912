// Package testenv holds what statefold's backend tests share: the rule that
// turns a missing server into a skip (or, with STATEFOLD_REQUIRE_BACKENDS=1, a
// failure) for tests and examples alike, and the start of a throwaway
// server in Docker when no address is given (see [StartContainer]).
package testenv

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/statefold/statefold/storagetest"
)

// RequireEnv names the variable that turns every "no server" skip into a
// failure. make test and CI set it to 1.
const RequireEnv = "STATEFOLD_REQUIRE_BACKENDS"

// Required reports whether server backends are required.
func Required() bool {
	v := os.Getenv(RequireEnv)
	return v != "" && v != "0" && v != "false"
}

// Unavailable ends t because a server backend is unavailable: a skip
// normally, a fatal error when [Required].
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf(RequireEnv+"=1 but "+format, args...)
	}
	t.Skipf(format, args...)
}

// ExamplesNeed is for a TestMain whose package has Example functions that
// reach a server through the variable env (they read it as a user's program
// would, and print deterministic output). When env is unset they cannot
// run: ExamplesNeed then skips every Example of the test binary, and says so
// on stderr, unless [Required], in which case they run and fail. It parses
// the flags; call it before m.Run. A -test.skip of several levels given by
// the caller is left alone.
func ExamplesNeed(env string) {
	if os.Getenv(env) != "" || Required() {
		return
	}
	if !flag.Parsed() {
		flag.Parse()
	}
	f := flag.Lookup("test.skip")
	if f == nil {
		return
	}
	skip := "^Example"
	switch cur := f.Value.String(); {
	case strings.Contains(cur, "/"):
		fmt.Fprintf(os.Stderr, "%s is unset: the examples will fail (-test.skip %q is left alone)\n", env, cur)
		return
	case cur != "":
		skip = cur + "|" + skip
	}
	if err := f.Value.Set(skip); err != nil {
		fmt.Fprintf(os.Stderr, "skip the examples: %v\n", err)
		return
	}
	fmt.Fprintf(os.Stderr, "examples skipped: %s is unset (%s=1 makes them run and fail)\n", env, RequireEnv)
}

// StartContainer starts a throwaway server of kind ("mysql", "dynamodb"
// or "postgres") in Docker and returns its address (a DSN, an endpoint URL
// or a connection string) and a function that removes it. It runs the
// tools/testservers module of the repository (its own module, so that
// testcontainers never becomes a dependency of statefold's), and fails
// quickly when no Docker engine is configured.
func StartContainer(ctx context.Context, kind string) (addr string, stop func(), err error) {
	if os.Getenv("DOCKER_HOST") == "" {
		if _, err := os.Stat("/var/run/docker.sock"); err != nil {
			return "", nil, errors.New("no Docker engine (no DOCKER_HOST, no /var/run/docker.sock)")
		}
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", nil, errors.New("cannot locate the repository")
	}
	cmd := exec.CommandContext(ctx, "go", "run", ".", kind)
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..", "tools", "testservers")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start tools/testservers: %w", err)
	}
	stop = func() {
		_ = in.Close() // the tool removes the container and exits
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, found := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if err != nil || !found {
		stop()
		return "", nil, fmt.Errorf("tools/testservers %s started no server (%q): %v", kind, line, err)
	}
	return addr, stop, nil
}

// TablePrefix returns a table-name prefix unique to this call ("sft_"
// and 12 hex digits and "_"), valid in MySQL, PostgreSQL and DynamoDB
// table names, so that parallel tests and runs never share tables.
func TablePrefix() string {
	return strings.ReplaceAll(storagetest.UniqueID("sft"), "-", "_") + "_"
}
