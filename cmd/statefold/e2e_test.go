package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/internal/testenv"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/dynamo"
)

// backends are the servers the end-to-end test runs on: the variable the
// library's tests read, and the kind of testenv.StartContainer.
var backends = []struct{ store, env, container string }{
	{"mysql", "STATEFOLD_MYSQL_DSN", "mysql"},
	{"postgres", "STATEFOLD_POSTGRES_DSN", "postgres"},
	{"dynamo", "STATEFOLD_DYNAMO_ENDPOINT", "dynamodb"},
}

// unavailable ends the test for want of a server: a failure when the
// backends are required (make test) or under CI, a skip otherwise.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" && !testenv.Required() {
		t.Fatalf("CI=true but "+format, args...)
	}
	testenv.Unavailable(t, format, args...)
}

// serverVars locates the server as the library's tests do: its variable,
// else a throwaway container; they are the environment of every run.
func serverVars(t *testing.T, store, envName, container string) map[string]string {
	t.Helper()
	addr := os.Getenv(envName)
	if addr == "" {
		a, stop, err := testenv.StartContainer(context.Background(), container)
		if err != nil {
			unavailable(t, "no %s server: set %s or run a Docker engine (%v)", store, envName, err)
			return nil
		}
		t.Cleanup(stop)
		addr = a
	}
	return map[string]string{envName: addr}
}

func TestEndToEnd(t *testing.T) {
	for _, b := range backends {
		t.Run(b.store, func(t *testing.T) {
			t.Parallel()
			vars := serverVars(t, b.store, b.env, b.container)
			endToEnd(t, b.store, vars)
		})
	}
}

func endToEnd(t *testing.T, store string, vars map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prefix := testenv.TablePrefix()
	flags := []string{"--store", store, "--table-prefix", prefix, "--timeout", "60s"}
	cmd := func(code int, args ...string) invocation {
		t.Helper()
		args = append(args, flags...)
		return runCmd(t, vars, args...).want(t, code, args...)
	}

	// No tables yet: the check fails, migrate creates them, the check passes.
	inv := cmd(exitFailed, "store", "check")
	if !strings.Contains(inv.stderr, "statefold: check "+store) {
		t.Errorf("store check before migrate: stderr %q", inv.stderr)
	}
	cmd(exitOK, "store", "migrate")
	t.Cleanup(func() { dropTables(t, store, prefix, vars) })
	cmd(exitOK, "store", "migrate") // idempotent
	var check struct {
		OK    bool   `json:"ok"`
		How   string `json:"how"`
		Store string `json:"store"`
	}
	cmd(exitOK, "store", "check", "-o", "json").decode(t, &check)
	if !check.OK || !strings.HasPrefix(check.Store, store) {
		t.Errorf("store check -o json: %+v", check)
	}
	t.Logf("store check on %s: %s", store, check.How)
	if _, offers := openStore(t, store, prefix, vars).(checker); offers != (check.How == "Check") {
		t.Errorf("store check ran %s; the store offers Check: %v", check.How, offers)
	}

	// A rollout, written by the library: us-east running, us-west failed
	// under continue, eu-central not started.
	s := openStore(t, store, prefix, vars)
	ns := "cli-open-" + prefix
	p, err := applystate.NewProjector(s, s, applystate.WithDiscovery(s, ns, 4))
	if err != nil {
		t.Fatal(err)
	}
	id := "cli-" + prefix
	plan := applystate.Plan{Apply: storage.Apply{ID: id}}
	for i, d := range []struct{ name, policy string }{{"us-east", "halt"}, {"us-west", "continue"}, {"eu-central", "pause"}, {"ap-south", "halt"}} {
		plan.Operations = append(plan.Operations, storage.Operation{ID: d.name, Seq: int64(i + 1), Deployment: d.name, OnFailure: d.policy})
	}
	if _, _, err := p.CreatePlan(ctx, plan); err != nil {
		t.Fatal(err)
	}
	drive := func(op string, st applystate.State, msg string) {
		t.Helper()
		if _, err := p.Drive(ctx, id, []applystate.Task{{OperationID: op, State: applystate.Pending}}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Drive(ctx, id, []applystate.Task{{OperationID: op, State: st, ErrorMessage: msg}}); err != nil {
			t.Fatal(err)
		}
	}
	drive("us-east", applystate.Running, "")
	drive("us-west", applystate.Failed, "health check failed")

	inv = cmd(exitOK, "apply", "show", id)
	for _, want := range []string{
		"state           running_degraded",
		"deployment us-west failed: health check failed",
		"explanation:\n  apply " + id + " is running_degraded: " + applystate.RuleDegraded.Describe(),
		"  failed: us-west\n",
		"  holding it open: us-east\n",
		"  not started: eu-central, ap-south\n",
		"  next: ",
	} {
		if !strings.Contains(inv.stdout, want) {
			t.Errorf("apply show: no %q in\n%s", want, inv.stdout)
		}
	}
	rows := tableRows(inv.stdout, "SEQ")
	if len(rows) != 4 || rows[0][1] != "us-east" || rows[0][3] != "running" || rows[1][1] != "us-west" ||
		rows[1][3] != "failed" || rows[1][4] != "continue" || rows[2][1] != "eu-central" || rows[2][3] != "pending" || rows[2][4] != "pause" {
		t.Errorf("apply show: operation rows %q in\n%s", rows, inv.stdout)
	}

	var show applyShowView
	cmd(exitOK, "apply", "show", id, "-o", "json").decode(t, &show)
	if x := show.Explanation; show.Apply.State != "running_degraded" || len(show.Operations) != 4 || show.Operations[1].Policy != "continue" ||
		x.State != "running_degraded" || x.Rule != string(applystate.RuleDegraded) || x.Stale ||
		!slices.Equal(x.Failed, []string{"us-west"}) || !slices.Equal(x.Holding, []string{"us-east"}) || len(x.Changes) == 0 {
		t.Errorf("apply show -o json: %+v", show)
	}
	cmd(exitNotFound, "apply", "show", "no-such-apply")
	var open struct {
		Applies []applyView `json:"applies"`
	}
	cmd(exitOK, "apply", "list", "--open", "--namespace", ns, "--shards", "4", "-o", "json").decode(t, &open)
	if len(open.Applies) != 1 || open.Applies[0].ID != id || open.Applies[0].State != "running_degraded" {
		t.Errorf("apply list --open -o json: %+v", open.Applies)
	}
	if rows := tableRows(cmd(exitOK, "apply", "list", "--open", "--namespace", ns, "--shards", "4").stdout, "APPLY"); len(rows) != 1 || rows[0][0] != id {
		t.Errorf("apply list --open: rows %q", rows)
	}

	// eu-central fails under pause with ap-south still to run: paused,
	// until a release.
	drive("eu-central", applystate.Failed, "smoke test failed")
	inv = cmd(exitOK, "apply", "show", id)
	for _, want := range []string{"state           paused", "  paused by: eu-central\n", "  next: ReleasePause releases eu-central"} {
		if !strings.Contains(inv.stdout, want) {
			t.Errorf("apply show of a paused apply: no %q in\n%s", want, inv.stdout)
		}
	}
	var release struct {
		Apply    applyView `json:"apply"`
		Previous string    `json:"previous"`
	}
	cmd(exitOK, "apply", "release", id, "-o", "json").decode(t, &release)
	if release.Previous != "paused" || release.Apply.State != "running_degraded" {
		t.Errorf("apply release -o json: %+v", release)
	}
	if rows := tableRows(cmd(exitOK, "apply", "show", id).stdout, "SEQ"); len(rows) != 4 || rows[2][4] != "pause → continue" {
		t.Errorf("apply show after release: rows %q", rows)
	}
	cmd(exitNotFound, "apply", "stop", "no-such-apply")

	// Stop: eu-central (never started) is stopped; us-east keeps the apply
	// open until its loop reports.
	var stop struct {
		Apply   applyView `json:"apply"`
		Changed bool      `json:"changed"`
	}
	cmd(exitOK, "apply", "stop", id, "-o", "json").decode(t, &stop)
	if !stop.Apply.StopRequested || !stop.Changed {
		t.Errorf("apply stop -o json: %+v", stop)
	}
	op, err := s.GetOperation(ctx, id, "ap-south")
	if err != nil || op.State != string(applystate.Stopped) {
		t.Errorf("after apply stop: ap-south %q, %v; want stopped", op.State, err)
	}
	inv = cmd(exitOK, "apply", "reproject", id)
	if !strings.Contains(inv.stdout, "stop requested  yes") {
		t.Errorf("apply reproject: %s", inv.stdout)
	}

	// A queue: two live batches, one done.
	m := batchstate.Machine{States: []string{"queued", "running", "done"}, Terminal: []string{"done"}}
	o, err := batchstate.New(s, s, m)
	if err != nil {
		t.Fatal(err)
	}
	q := "q-" + prefix
	for _, bid := range []string{"b1", "b2", "b3"} {
		if _, err := o.Create(ctx, storage.Batch{Queue: q, ID: bid, State: "queued"}); err != nil {
			t.Fatal(err)
		}
	}
	b2, err := s.GetBatch(ctx, q, "b2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Transition(ctx, b2, "running"); err != nil {
		t.Fatal(err)
	}
	b3, err := s.GetBatch(ctx, q, "b3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Transition(ctx, b3, "done"); err != nil {
		t.Fatal(err)
	}
	inv = cmd(exitOK, "queue", "list", q, "--state", "queued", "--state", "running")
	if rows := tableRows(inv.stdout, "BATCH"); len(rows) != 2 || rows[0][0] != "b1" || rows[0][1] != "queued" || rows[1][0] != "b2" || rows[1][1] != "running" {
		t.Errorf("queue list: rows %q in\n%s", rows, inv.stdout)
	}
	var list struct {
		States  []string    `json:"states"`
		Batches []batchView `json:"batches"`
	}
	machine := []string{"--states", "queued,running,done", "--terminal", "done"}
	cmd(exitOK, append([]string{"queue", "list", q, "-o", "json"}, machine...)...).decode(t, &list)
	if ids := batchIDs(list.Batches); !slices.Equal(ids, []string{"b1", "b2"}) || !slices.Equal(list.States, []string{"queued", "running"}) {
		t.Errorf("queue list -o json: states %v, batches %v", list.States, ids)
	}
	inv = cmd(exitOK, append([]string{"queue", "show", q, "b2"}, machine...)...)
	if !strings.Contains(inv.stdout, "listed in: running") || !strings.Contains(inv.stdout, "state queued (version 1, added") ||
		!strings.Contains(inv.stdout, "left by a move out of it") {
		t.Errorf("queue show: %s", inv.stdout)
	}
	cmd(exitNotFound, "queue", "show", q, "no-such-batch")
	if inv := cmd(exitOK, "queue", "show", q, "b1"); !strings.Contains(inv.stdout, "index rows: not read") {
		t.Errorf("queue show without the machine: %s", inv.stdout)
	}
	var rec struct {
		Scanned      int `json:"scanned"`
		RemovedStale int `json:"removed_stale"`
	}
	cmd(exitOK, append([]string{"queue", "reconcile", q, "-o", "json"}, machine...)...).decode(t, &rec)
	// queued: b1, b2 (stale), b3 (stale: b3 is done); running: b2.
	if rec.Scanned < 3 || rec.RemovedStale < 1 {
		t.Errorf("queue reconcile -o json: %+v", rec)
	}
}

// tableRows returns the rows of the table whose header starts with
// first, split on runs of two or more spaces.
func tableRows(out, first string) [][]string {
	var rows [][]string
	in := false
	for line := range strings.SplitSeq(out, "\n") {
		switch {
		case strings.HasPrefix(line, first+" "):
			in = true
		case in && strings.TrimSpace(line) == "":
			return rows
		case in:
			var cells []string
			for c := range strings.SplitSeq(line, "  ") {
				if c = strings.TrimSpace(c); c != "" {
					cells = append(cells, c)
				}
			}
			rows = append(rows, cells)
		}
	}
	return rows
}

func batchIDs(bs []batchView) []string {
	var ids []string
	for _, b := range bs {
		ids = append(ids, b.ID)
	}
	return ids
}

// testConn opens the backend as the command does.
func testConn(t *testing.T, store, prefix string, vars map[string]string) *conn {
	t.Helper()
	e := newEnv(func(k string) string { return vars[k] })
	e.store, e.prefix = store, prefix
	c, err := e.connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

func openStore(t *testing.T, store, prefix string, vars map[string]string) storage.Store {
	t.Helper()
	s, err := testConn(t, store, prefix, vars).storage()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dropTables(t *testing.T, store, prefix string, vars map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := testConn(t, store, prefix, vars)
	var err error
	switch store {
	case "mysql":
		_, err = c.DB.ExecContext(ctx, fmt.Sprintf("DROP TABLE IF EXISTS `%[1]sbatches`, `%[1]smembers`, `%[1]sapplies`, `%[1]soperations`", prefix))
	case "postgres":
		_, err = c.Pool.Exec(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS "%[1]sbatches", "%[1]smembers", "%[1]sapplies", "%[1]soperations"`, prefix))
	case "dynamo":
		err = dynamo.DeleteTables(ctx, c.Client, dynamo.WithTablePrefix(prefix))
	}
	if err != nil {
		t.Errorf("drop the tables %s*: %v", prefix, err)
	}
}

// TestCredentialsNotPrinted: a password in a DSN appears nowhere in what
// the command writes — errors of a failed connection included — and -o
// json shows the DSN redacted.
func TestCredentialsNotPrinted(t *testing.T) {
	const secret = "s3cretPW-Zq9"
	check := func(t *testing.T, inv invocation, showsDSN bool) {
		t.Helper()
		all := inv.stdout + inv.stderr
		if strings.Contains(all, secret) || strings.Contains(all, url.QueryEscape(secret)) {
			t.Errorf("the password is printed (exit %d):\n%s", inv.code, all)
		}
		if showsDSN && !strings.Contains(all, redacted) {
			t.Errorf("no %s where the DSN is shown (exit %d):\n%s", redacted, inv.code, all)
		}
	}
	// No server needed: refused connections, an unparsable DSN.
	for _, c := range []struct {
		name string
		args []string
	}{
		{"postgres refused", []string{"--store", "postgres", "--dsn", "postgres://postgres:" + secret + "@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"}},
		{"postgres bad port", []string{"--store", "postgres", "--dsn", "postgres://postgres:" + secret + "@127.0.0.1:badport/test"}},
		{"postgres key/value", []string{"--store", "postgres", "--dsn", "host=127.0.0.1 port=1 user=postgres password=" + secret + " connect_timeout=5"}},
		{"mysql refused", []string{"--store", "mysql", "--dsn", "root:" + secret + "@tcp(127.0.0.1:1)/test?timeout=5s"}},
		{"mysql bad parameter", []string{"--store", "mysql", "--dsn", "root:" + secret + "@tcp(127.0.0.1:1)/test?timeout=never"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, out := range []string{"table", "json"} {
				args := append([]string{"store", "check", "-v", "-o", out}, c.args...)
				inv := runCmd(t, nil, args...)
				if inv.code != exitFailed {
					t.Errorf("exit %d, want %d: %s", inv.code, exitFailed, inv.stderr)
				}
				check(t, inv, true)
			}
		})
	}
	// On the servers: a wrong password (MySQL), and -o json of a store that
	// answers (PostgreSQL's test server trusts the loopback, so any
	// password connects; a server that checks it fails the check, which
	// must not print it either).
	for _, b := range backends[:2] {
		t.Run(b.store, func(t *testing.T) {
			vars := serverVars(t, b.store, b.env, b.container)
			dsn := withPassword(t, vars[b.env], secret)
			inv := runCmd(t, nil, "store", "check", "-o", "json", "--store", b.store, "--dsn", dsn, "--table-prefix", testenv.TablePrefix())
			if inv.code == exitOK {
				t.Errorf("store check of tables that do not exist passed")
			}
			check(t, inv, true)
			inv = runCmd(t, nil, "apply", "show", "x", "-o", "json", "--store", b.store, "--dsn", dsn, "--table-prefix", testenv.TablePrefix())
			check(t, inv, false)
		})
	}
}

// withPassword returns dsn with its password set to secret.
func withPassword(t *testing.T, dsn, secret string) string {
	t.Helper()
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), secret)
		return u.String()
	}
	at := strings.LastIndex(dsn, "@")
	if at < 0 {
		t.Fatalf("DSN %q has no user", redactDSN(dsn))
	}
	user, _, _ := strings.Cut(dsn[:at], ":")
	return user + ":" + secret + dsn[at:]
}
