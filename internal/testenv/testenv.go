// Package testenv holds what statefold's backend tests share: the rule that
// turns a missing server into a skip (or, with STATEFOLD_REQUIRE_BACKENDS=1, a
// failure) for tests and examples alike, and a Docker health probe for the testcontainers path.
package testenv

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
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

// DockerHealthy reports whether a Docker engine answers, so that the
// testcontainers path can be used. It never panics.
func DockerHealthy(ctx context.Context) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return false
	}
	defer p.Close()
	return p.Health(ctx) == nil
}
