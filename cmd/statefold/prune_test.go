package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/internal/testenv"
	"github.com/statefold/statefold/storage"
)

// TestPruneEndToEnd: queue prune and apply prune on each server, in
// pages and with --all, prune what finished and nothing else.
func TestPruneEndToEnd(t *testing.T) {
	for _, b := range backends {
		t.Run(b.store, func(t *testing.T) {
			t.Parallel()
			vars := serverVars(t, b.store, b.env, b.container)
			pruneEndToEnd(t, b.store, vars)
		})
	}
}

func pruneEndToEnd(t *testing.T, store string, vars map[string]string) {
	prefix := testenv.TablePrefix()
	flags := []string{"--store", store, "--table-prefix", prefix, "--timeout", "60s"}
	cmd := func(code int, args ...string) invocation {
		t.Helper()
		args = append(args, flags...)
		return runCmd(t, vars, args...).want(t, code, args...)
	}
	cmd(exitOK, "store", "migrate")
	t.Cleanup(func() { dropTables(t, store, prefix, vars) })
	s := openStore(t, store, prefix, vars)
	queuePruneEndToEnd(t, s, cmd)
	applyPruneEndToEnd(t, s, cmd)
}

func queuePruneEndToEnd(t *testing.T, s storage.Store, cmd func(int, ...string) invocation) {
	ctx := context.Background()
	o, err := batchstate.New(s, s, batchstate.Machine{States: []string{"queued", "done"}, Terminal: []string{"done"}}, batchstate.WithFinishedIndex())
	if err != nil {
		t.Fatal(err)
	}
	const q = "q-prune"
	for _, id := range []string{"b1", "b2", "b3", "live"} {
		b, err := o.Create(ctx, storage.Batch{Queue: q, ID: id, State: "queued", Payload: []byte("x")})
		if err == nil && id != "live" {
			_, err = o.Transition(ctx, b, "done")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	machine := []string{"--states", "queued,done", "--terminal", "done", "--before", before}
	cmd(exitUsage, "queue", "prune", q, "--before", before)                                   // no machine
	cmd(exitUsage, append([]string{"queue", "prune", q, "--retention", "1h"}, machine...)...) // both
	var rep struct {
		Calls, Pruned, Kept int
		More                bool
	}
	cmd(exitOK, append([]string{"queue", "prune", q, "--limit", "2", "-o", "json"}, machine...)...).decode(t, &rep)
	if rep.Pruned != 2 || !rep.More || rep.Calls != 1 {
		t.Errorf("queue prune --limit 2 -o json: %+v", rep)
	}
	inv := cmd(exitOK, append([]string{"queue", "prune", q, "--limit", "1", "--all"}, machine...)...)
	if pruned, more := rowValue(inv.stdout, "pruned"), rowValue(inv.stdout, "more"); pruned != "1" || more != "no" {
		t.Errorf("queue prune --all: pruned %q, more %q in\n%s", pruned, more, inv.stdout)
	}
	for _, id := range []string{"b1", "b2", "b3"} {
		if b, err := s.GetBatch(ctx, q, id); err != nil || b.State != batchstate.Abandoned || b.Payload != nil {
			t.Errorf("batch %s after queue prune: %+v, %v; want a tombstone", id, b, err)
		}
	}
	if b, err := s.GetBatch(ctx, q, "live"); err != nil || b.State != "queued" || string(b.Payload) != "x" {
		t.Errorf("the live batch after queue prune: %+v, %v", b, err)
	}
	if _, err := o.Create(ctx, storage.Batch{Queue: q, ID: "b1", State: "queued"}); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("Create of a pruned id: %v, want ErrAlreadyExists", err)
	}
}

func applyPruneEndToEnd(t *testing.T, s storage.Store, cmd func(int, ...string) invocation) {
	ctx := context.Background()
	ns := "cli-prune"
	p, err := applystate.NewProjector(s, s, applystate.WithDiscovery(s, ns, 4))
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a1", "a2", "a3", "open"} {
		plan := applystate.Plan{Apply: storage.Apply{ID: id, Payload: []byte("{}")},
			Operations: []storage.Operation{{ID: "x", Deployment: "d"}, {ID: "y", Seq: 1, Deployment: "d2"}}}
		if _, _, err := p.CreatePlan(ctx, plan); err != nil {
			t.Fatal(err)
		}
		for _, op := range []string{"x", "y"}[:min(i+1, 2)] {
			if id != "open" {
				if _, err := p.Drive(ctx, id, []applystate.Task{{OperationID: op, State: applystate.Completed}}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if _, err := p.Stop(ctx, "a1"); err != nil { // a1: x completed, y stopped: a terminal apply
		t.Fatal(err)
	}
	before := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	args := []string{"apply", "prune", "--namespace", ns, "--shards", "4", "--before", before}
	cmd(exitUsage, "apply", "prune", "--before", before) // no namespace
	var rep struct {
		Pruned, Operations int
		More               bool
		Next               time.Time
	}
	cmd(exitOK, append(args, "--limit", "2", "-o", "json")...).decode(t, &rep)
	if rep.Pruned != 2 || !rep.More || rep.Next.IsZero() {
		t.Errorf("apply prune --limit 2 -o json: %+v", rep)
	}
	inv := cmd(exitOK, append(args, "--limit", "1", "--all")...)
	if pruned, more := rowValue(inv.stdout, "pruned"), rowValue(inv.stdout, "more"); pruned != "1" || more != "no" {
		t.Errorf("apply prune --all: pruned %q, more %q in\n%s", pruned, more, inv.stdout)
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		a, err := s.GetApply(ctx, id)
		ops, lerr := s.ListOperations(ctx, id)
		if err != nil || lerr != nil || !applystate.State(a.State).Terminal() || a.Payload != nil || len(ops) != 0 {
			t.Errorf("apply %s after apply prune: %+v, %d operation(s), %v, %v", id, a, len(ops), err, lerr)
		}
	}
	if ops, err := s.ListOperations(ctx, "open"); err != nil || len(ops) != 2 {
		t.Errorf("the open apply after apply prune: %d operation(s), %v", len(ops), err)
	}
}

// The prune commands' usage errors need no server.
func TestPruneUsage(t *testing.T) {
	machine := []string{"--states", "a,b", "--terminal", "b"}
	for _, args := range [][]string{
		append([]string{"queue", "prune", "q"}, machine...),
		append([]string{"queue", "prune", "q", "--retention", "1h", "--before", "2026-01-01"}, machine...),
		append([]string{"queue", "prune", "q", "--retention", "soon"}, machine...),
		append([]string{"queue", "prune", "q", "--retention", "-1h"}, machine...),
		append([]string{"queue", "prune", "q", "--before", "yesterday"}, machine...),
		append([]string{"queue", "prune", "q", "--retention", "1h", "--limit", "10001"}, machine...),
		append([]string{"queue", "prune", "q", "--before", "2026-01-01", "--since", "2026-02-01"}, machine...),
		append([]string{"queue", "prune", "q", "--before", "2026-01-01", "--since", "2024-01-01"}, machine...),
		{"apply", "prune", "--retention", "30d"},
		{"apply", "prune", "--namespace", "ns", "--retention", "30d", "--limit", "0"},
		{"apply", "prune", "--namespace", "ns", "--retention", "30d", "extra"},
	} {
		if inv := runCmd(t, nil, args...); inv.code != exitUsage {
			t.Errorf("statefold %s: exit code %d, want %d (%s)", strings.Join(args, " "), inv.code, exitUsage, inv.stderr)
		}
	}
	inv := runCmd(t, nil, "apply", "prune", "--namespace", "ns", "--retention", "30d", "-o", "json").want(t, exitOK)
	want := fmt.Sprintf(`"next": "%s`, time.Now().Add(-30*24*time.Hour).UTC().Format(time.DateOnly))
	if !strings.Contains(inv.stdout, want) {
		t.Errorf("apply prune -o json on an empty store: no %q in\n%s", want, inv.stdout)
	}
}

// rowValue returns the value of the two-column table row named key.
func rowValue(out, key string) string {
	for line := range strings.SplitSeq(out, "\n") {
		if k, v, ok := strings.Cut(line, "  "); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
