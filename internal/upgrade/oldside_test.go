package upgrade

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statefold/statefold/batchstate"
)

// oldModule is the module path the v0.1.0 source is rewritten to, so that
// it builds beside today's module in one program.
const oldModule = "statefold-v010"

// oldside is the built v0.1.0 side (testdata/oldside over
// testdata/v0.1.0.tar.gz), built once per test binary.
var oldside struct {
	once sync.Once
	bin  string
	err  error
	dir  string
}

// oldBinary returns the path of the v0.1.0 side's program, building it on
// first use.
func oldBinary(t *testing.T) string {
	t.Helper()
	oldside.once.Do(func() { oldside.bin, oldside.err = buildOldSide() })
	if oldside.err != nil {
		t.Fatalf("build the v0.1.0 side: %v", oldside.err)
	}
	return oldside.bin
}

// buildOldSide unpacks the v0.1.0 packages (their imports rewritten to
// oldModule), adds the driver, writes a go.mod that requires today's
// module from this repository (for the PostgreSQL store) with today's
// dependency versions, and builds it.
func buildOldSide() (string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "statefold-v010-")
	if err != nil {
		return "", err
	}
	oldside.dir = dir
	if err := unpack(filepath.Join("testdata", "v0.1.0.tar.gz"), dir); err != nil {
		return "", err
	}
	for _, f := range []string{"main.go", "pgstore.go"} {
		b, err := os.ReadFile(filepath.Join("testdata", "oldside", f))
		if err != nil {
			return "", err
		}
		if err := write(filepath.Join(dir, "cmd", "oldside", f), b); err != nil {
			return "", err
		}
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return "", err
	}
	gomod := strings.Replace(string(mod), "module github.com/statefold/statefold", "module "+oldModule, 1) +
		"\nrequire github.com/statefold/statefold v0.0.0\n\nreplace github.com/statefold/statefold => " + root + "\n"
	if err := write(filepath.Join(dir, "go.mod"), []byte(gomod)); err != nil {
		return "", err
	}
	if err := write(filepath.Join(dir, "go.sum"), sum); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "oldside")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/oldside")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// unpack extracts the archive's v010/ tree into dir, rewriting the
// imports of the v0.1.0 module; the release's go.mod and go.sum are left
// out (dir's go.mod is the one module of the program).
func unpack(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name, ok := strings.CutPrefix(h.Name, "v010/")
		if !ok || h.Typeflag != tar.TypeReg || name == "go.mod" || name == "go.sum" || strings.Contains(name, "..") {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if strings.HasSuffix(name, ".go") {
			b = bytes.ReplaceAll(b, []byte(`"github.com/statefold/statefold/`), []byte(`"`+oldModule+`/`))
		}
		if err := write(filepath.Join(dir, filepath.FromSlash(name)), b); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s holds no v010/ file", archive)
	}
	return nil
}

func write(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// server is one backend as both sides reach it.
type server struct {
	backend string // mysql, postgres or dynamo
	addr    string // DSN or endpoint
}

// runOld runs one command of the v0.1.0 side against srv's tables of prefix
// and returns its standard output.
func runOld(t *testing.T, srv server, prefix, command string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args = append([]string{command, "-backend", srv.backend, "-addr", srv.addr, "-prefix", prefix}, args...)
	cmd := exec.CommandContext(ctx, oldBinary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("v0.1.0 %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// queueMachine is the merge queue's machine, as the v0.1.0 side defines
// it (its machine command).
func queueMachine(t *testing.T) batchstate.Machine {
	t.Helper()
	cmd := exec.Command(oldBinary(t), "machine")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("v0.1.0 machine: %v", err)
	}
	var m batchstate.Machine
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("v0.1.0 machine output: %v", err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("v0.1.0 machine: %v", err)
	}
	return m
}

// seeded is what the v0.1.0 side's seed command prints.
type seeded struct {
	Applies []struct {
		ID           string   `json:"id"`
		Kind         string   `json:"kind"`
		Ops          []string `json:"ops"`
		State        string   `json:"state"`
		Terminalized bool     `json:"terminalized"`
	} `json:"applies"`
	Queues []struct {
		Queue   string   `json:"queue"`
		Batches []string `json:"batches"`
		Ghosts  []string `json:"ghosts"`
	} `json:"queues"`
}

func seedOld(t *testing.T, srv server, prefix string) seeded {
	t.Helper()
	var s seeded
	if err := json.Unmarshal(runOld(t, srv, prefix, "seed"), &s); err != nil {
		t.Fatalf("v0.1.0 seed output: %v", err)
	}
	if len(s.Applies) == 0 || len(s.Queues) == 0 {
		t.Fatalf("v0.1.0 seed wrote nothing: %+v", s)
	}
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	if oldside.dir != "" {
		_ = os.RemoveAll(oldside.dir)
	}
	os.Exit(code)
}
