// Command oldside is the v0.1.0 side of the upgrade test: statefold v0.1.0's
// applystate, batchstate and backends (unpacked from ../v0.1.0.tar.gz, their
// imports rewritten to the module statefold-v010) writing to a server, one
// command per run:
//
//	oldside machine                                  the merge queue's machine, as JSON
//	oldside seed    -backend B -addr A -prefix P   rollouts and queues mid-flight; prints the ids as JSON
//	oldside create  -backend B -addr A -prefix P -queue Q -id X [-tables]   one v0.1.0 Create (in queued)
//	oldside move    -backend B -addr A -prefix P -queue Q -id X -to S   one v0.1.0 Transition
//	oldside drive   -backend B -addr A -prefix P -apply A -op O -state S   one v0.1.0 Drive; prints its Result
//	oldside rowonly -backend B -addr A -prefix P -apply A -op O -state S   the operation write of a v0.1.0 Drive, then a crash
//
// On PostgreSQL, which v0.1.0 had no backend for, the v0.1.0 orchestrators
// write through today's PostgreSQL store behind the v0.1.0 store interfaces
// (pgstore.go).
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/go-sql-driver/mysql"

	"statefold-v010/applystate"
	"statefold-v010/batchstate"
	"statefold-v010/storage"
	"statefold-v010/storage/dynamo"
	"statefold-v010/storage/mysql"
)

// machine is the merge queue's machine on both sides of the upgrade:
// today's side reads it with the machine command.
var machine = batchstate.Machine{
	States:   []string{"queued", "testing", "merging", "merged", "failed"},
	Terminal: []string{"merged", "failed"},
	Transitions: map[string][]string{
		"queued":  {"testing", "failed"},
		"testing": {"queued", "merging", "failed"},
		"merging": {"merged", "failed", "queued"},
	},
}

// Seeded is what seed prints.
type Seeded struct {
	Applies []SeededApply `json:"applies"`
	Queues  []SeededQueue `json:"queues"`
}

// SeededApply is one rollout written by v0.1.0.
type SeededApply struct {
	ID           string   `json:"id"`
	Kind         string   `json:"kind"`
	Ops          []string `json:"ops"`
	State        string   `json:"state"`
	Terminalized bool     `json:"terminalized"`
}

// SeededQueue is one queue written by v0.1.0: every batch created (live or
// terminal), and the ids of index rows left by a Create that crashed
// before its batch write (no batch: not rows to keep).
type SeededQueue struct {
	Queue   string   `json:"queue"`
	Batches []string `json:"batches"`
	Ghosts  []string `json:"ghosts"`
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "oldside:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: oldside machine|seed|create|move|drive|rowonly -backend B -addr A -prefix P ...")
	}
	if args[0] == "machine" {
		return json.NewEncoder(out).Encode(machine)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	backend := fs.String("backend", "", "mysql, postgres or dynamo")
	addr := fs.String("addr", "", "DSN or endpoint")
	prefix := fs.String("prefix", "", "table prefix")
	copies := fs.Int("copies", 2, "seed: copies of each rollout kind and queue batch kind")
	queue := fs.String("queue", "", "create, move: the queue")
	id := fs.String("id", "", "create, move: the batch")
	to := fs.String("to", "", "move: the target state")
	applyID := fs.String("apply", "", "drive, rowonly: the apply")
	opID := fs.String("op", "", "drive, rowonly: the operation")
	state := fs.String("state", "", "drive, rowonly: the operation's new state")
	tables := fs.Bool("tables", false, "create v0.1.0's tables first (seed always does)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	store, err := open(ctx, *backend, *addr, *prefix, *tables || args[0] == "seed")
	if err != nil {
		return err
	}
	o, err := batchstate.New(store, store, machine, batchstate.WithLogger(quiet()))
	if err != nil {
		return err
	}
	switch args[0] {
	case "seed":
		s, err := seed(ctx, store, *prefix, *copies)
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(s)
	case "create":
		b, err := o.Create(ctx, storage.Batch{Queue: *queue, ID: *id, State: "queued"})
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(b)
	case "move":
		b, err := store.GetBatch(ctx, *queue, *id)
		if err != nil {
			return err
		}
		b, err = o.Transition(ctx, b, *to)
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(b)
	case "drive":
		p := applystate.NewProjector(store, store, applystate.WithLogger(quiet()))
		res, err := p.Drive(ctx, *applyID, []applystate.Task{{OperationID: *opID, State: applystate.State(*state)}})
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(res)
	case "rowonly":
		return rowOnly(ctx, store, *applyID, *opID, applystate.State(*state))
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open returns the v0.1.0 store on the server; create makes v0.1.0's
// tables first (MySQL: its Migrate; DynamoDB: its CreateTables).
func open(ctx context.Context, backend, addr, prefix string, create bool) (storage.Store, error) {
	switch backend {
	case "mysql":
		db, err := sql.Open("mysql", addr)
		if err != nil {
			return nil, err
		}
		if create {
			if err := mysql.Migrate(ctx, db, mysql.WithTablePrefix(prefix)); err != nil {
				return nil, fmt.Errorf("v0.1.0 Migrate: %w", err)
			}
		}
		return mysql.New(db, mysql.WithTablePrefix(prefix))
	case "dynamo":
		client := dynamodb.New(dynamodb.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(addr),
			Credentials:  credentials.NewStaticCredentialsProvider("statefold", "statefold", ""),
		})
		if create {
			if err := dynamo.CreateTables(ctx, client, dynamo.WithTablePrefix(prefix)); err != nil {
				return nil, fmt.Errorf("v0.1.0 CreateTables: %w", err)
			}
		}
		s := dynamo.New(client, dynamo.WithTablePrefix(prefix))
		return s, s.Err()
	case "postgres":
		return openPostgres(ctx, addr, prefix)
	}
	return nil, fmt.Errorf("unknown backend %q", backend)
}

// rowOnly is a v0.1.0 Drive of one operation that crashed after its
// operation write, before its apply write: the row moves to state (StartedAt
// and CompletedAt stamped as v0.1.0 stamps them), the apply is untouched.
func rowOnly(ctx context.Context, store storage.Store, applyID, opID string, s applystate.State) error {
	op, err := store.GetOperation(ctx, applyID, opID)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	op.State, op.UpdatedAt = string(s), now
	if op.StartedAt.IsZero() && s != applystate.Pending {
		op.StartedAt = now
	}
	if s.Terminal() && op.CompletedAt.IsZero() {
		op.CompletedAt = now
	}
	_, err = store.UpdateOperation(ctx, op, op.Version)
	return err
}

// A kind of rollout left mid-flight: its operations' policies and the
// steps v0.1.0 took on it.
type kind struct {
	name     string
	policies [3]applystate.Policy
	steps    func(ctx context.Context, p *applystate.Projector, store storage.Store, id string, ops []string) (bool, error)
}

// drive reports each (operation index, state) pair in turn through v0.1.0's
// Drive and says whether one of them terminalized the apply.
func drive(ctx context.Context, p *applystate.Projector, id string, ops []string, steps ...any) (bool, error) {
	term := false
	for i := 0; i+1 < len(steps); i += 2 {
		op, s := ops[steps[i].(int)], steps[i+1].(applystate.State)
		t := applystate.Task{OperationID: op, State: s}
		if s == applystate.Failed {
			t.ErrorMessage = "v0.1.0 saw it fail"
		}
		res, err := p.Drive(ctx, id, []applystate.Task{t})
		if err != nil {
			return term, fmt.Errorf("v0.1.0 drive %s/%s %s: %w", id, op, s, err)
		}
		term = term || res.Terminalized
	}
	return term, nil
}

func steps(s ...any) func(context.Context, *applystate.Projector, storage.Store, string, []string) (bool, error) {
	return func(ctx context.Context, p *applystate.Projector, _ storage.Store, id string, ops []string) (bool, error) {
		return drive(ctx, p, id, ops, s...)
	}
}

const (
	halt, cont, pause = applystate.Halt, applystate.Continue, applystate.Pause
	run_, done, fail  = applystate.Running, applystate.Completed, applystate.Failed
)

var kinds = []kind{
	{"pending", [3]applystate.Policy{halt, halt, halt}, steps()},
	{"started", [3]applystate.Policy{halt, halt, halt}, steps(0, run_)},
	{"progress", [3]applystate.Policy{halt, cont, halt}, steps(0, run_, 0, done, 1, run_)},
	{"last-running", [3]applystate.Policy{halt, halt, halt}, steps(0, run_, 0, done, 1, run_, 1, done, 2, run_)},
	{"completed", [3]applystate.Policy{halt, halt, halt}, steps(0, run_, 1, run_, 2, run_, 0, done, 1, done, 2, done)},
	{"halt-in-flight", [3]applystate.Policy{halt, halt, halt}, steps(0, run_, 1, run_, 1, fail)},
	{"halt-settled", [3]applystate.Policy{halt, halt, halt}, steps(0, run_, 0, fail)},
	{"continue", [3]applystate.Policy{cont, halt, halt}, steps(0, run_, 0, fail, 1, run_)},
	{"paused", [3]applystate.Policy{pause, halt, halt}, steps(0, run_, 0, fail)},
	{"released", [3]applystate.Policy{pause, halt, halt}, func(ctx context.Context, p *applystate.Projector, s storage.Store, id string, ops []string) (bool, error) {
		t, err := drive(ctx, p, id, ops, 0, run_, 0, fail)
		if err != nil {
			return t, err
		}
		res, err := p.ReleasePause(ctx, id)
		return t || res.Terminalized, err
	}},
	{"stopping", [3]applystate.Policy{halt, halt, halt}, func(ctx context.Context, p *applystate.Projector, s storage.Store, id string, ops []string) (bool, error) {
		t, err := drive(ctx, p, id, ops, 0, run_, 0, done, 1, run_)
		if err != nil {
			return t, err
		}
		res, err := p.Stop(ctx, id)
		return t || res.Terminalized, err
	}},
	{"crashed-row", [3]applystate.Policy{halt, halt, halt}, func(ctx context.Context, p *applystate.Projector, s storage.Store, id string, ops []string) (bool, error) {
		t, err := drive(ctx, p, id, ops, 0, run_, 1, run_)
		if err != nil {
			return t, err
		}
		return t, rowOnly(ctx, s, id, ops[0], done)
	}},
}

func seed(ctx context.Context, store storage.Store, prefix string, copies int) (Seeded, error) {
	var out Seeded
	p := applystate.NewProjector(store, store, applystate.WithLogger(quiet()))
	for c := range copies {
		for _, k := range kinds {
			id := fmt.Sprintf("%s%s-%d", prefix, k.name, c)
			ops, err := createRollout(ctx, store, id, k.policies)
			if err != nil {
				return out, err
			}
			term, err := k.steps(ctx, p, store, id, ops)
			if err != nil {
				return out, fmt.Errorf("rollout %s: %w", id, err)
			}
			a, err := store.GetApply(ctx, id)
			if err != nil {
				return out, err
			}
			out.Applies = append(out.Applies, SeededApply{ID: id, Kind: k.name, Ops: ops, State: a.State, Terminalized: term})
		}
	}
	for qi, reconcile := range []bool{false, true} {
		q, err := seedQueue(ctx, store, fmt.Sprintf("%squeue-%d", prefix, qi), copies, reconcile)
		if err != nil {
			return out, err
		}
		out.Queues = append(out.Queues, q)
	}
	return out, nil
}

// createRollout creates an apply and its three operations the way v0.1.0's
// examples did (the apply first).
func createRollout(ctx context.Context, store storage.Store, id string, policies [3]applystate.Policy) ([]string, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := store.CreateApply(ctx, storage.Apply{ID: id, State: string(applystate.Pending), CreatedAt: now, UpdatedAt: now}); err != nil {
		return nil, err
	}
	var ops []string
	for i, pol := range policies {
		op := storage.Operation{
			ApplyID: id, ID: fmt.Sprintf("d%d", i), Seq: int64(i), Deployment: fmt.Sprintf("dep-%d", i),
			State: string(applystate.Pending), OnFailure: string(pol), CreatedAt: now, UpdatedAt: now,
		}
		if _, err := store.CreateOperation(ctx, op); err != nil {
			return nil, err
		}
		ops = append(ops, op.ID)
	}
	return ops, nil
}

// seedQueue creates batches with v0.1.0's Create and moves them with its
// Transition, leaving crash leftovers: a transition that added the new
// index row and crashed before its batch write, one that crashed after its
// batch write before removing the old row (to a live and to a terminal
// state), and a Create that crashed before its batch write. reconcile runs
// v0.1.0's Reconcile at the end.
func seedQueue(ctx context.Context, store storage.Store, queue string, copies int, reconcile bool) (SeededQueue, error) {
	q := SeededQueue{Queue: queue}
	o, err := batchstate.New(store, store, machine, batchstate.WithLogger(quiet()))
	if err != nil {
		return q, err
	}
	paths := map[string][]string{
		"queued":         nil,
		"testing":        {"testing"},
		"merging":        {"testing", "merging"},
		"requeued":       {"testing", "queued"},
		"merged":         {"testing", "merging", "merged"},
		"failed":         {"failed"},
		"add-crash":      {"testing", "+merging"},
		"remove-crash":   {"testing", "-merging"},
		"terminal-crash": {"testing", "merging", "-merged"},
	}
	names := []string{"queued", "testing", "merging", "requeued", "merged", "failed", "add-crash", "remove-crash", "terminal-crash"}
	for c := range copies {
		for _, n := range names {
			id := fmt.Sprintf("%s-%d", n, c)
			b, err := o.Create(ctx, storage.Batch{Queue: queue, ID: id, State: "queued", Payload: []byte(id)})
			if err != nil {
				return q, err
			}
			q.Batches = append(q.Batches, id)
			for _, step := range paths[n] {
				if b, err = move(ctx, o, store, b, step); err != nil {
					return q, fmt.Errorf("batch %s %s: %w", id, step, err)
				}
			}
		}
		ghost := fmt.Sprintf("ghost-%d", c)
		now := time.Now().UTC().Truncate(time.Microsecond)
		if err := store.AddMember(ctx, storage.Member{Queue: queue, State: "queued", BatchID: ghost, Version: 1, AddedAt: now}); err != nil {
			return q, err
		}
		q.Ghosts = append(q.Ghosts, ghost)
	}
	if reconcile {
		if _, err := o.Reconcile(ctx, queue); err != nil {
			return q, fmt.Errorf("v0.1.0 reconcile: %w", err)
		}
	}
	return q, nil
}

// move is v0.1.0's Transition to step, or, for "+S", its first write alone
// (the new index row; crashed before the batch write), or, for "-S", its
// first two (crashed before removing the old row).
func move(ctx context.Context, o *batchstate.Orchestrator, store storage.Store, b storage.Batch, step string) (storage.Batch, error) {
	if step[0] != '+' && step[0] != '-' {
		return o.Transition(ctx, b, step)
	}
	to := step[1:]
	now := time.Now().UTC().Truncate(time.Microsecond)
	if !machine.IsTerminal(to) {
		if err := store.AddMember(ctx, storage.Member{Queue: b.Queue, State: to, BatchID: b.ID, Version: b.Version + 1, AddedAt: now}); err != nil {
			return b, err
		}
	}
	if step[0] == '+' {
		return b, nil
	}
	next := b
	next.State, next.UpdatedAt = to, now
	return store.UpdateBatch(ctx, next, b.Version)
}
