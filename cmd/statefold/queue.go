package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// machineFlags name the queue's state machine.
type machineFlags struct {
	file        string
	states      listValue
	terminal    listValue
	transitions string
}

func (m *machineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.file, "machine", "", "JSON file holding the queue's batchstate.Machine: {\"states\": [...], \"terminal\": [...], \"transitions\": {...}}")
	fs.Var(&m.states, "states", "the machine's states, comma-separated (instead of --machine)")
	fs.Var(&m.terminal, "terminal", "the machine's terminal states, comma-separated (with --states)")
	fs.StringVar(&m.transitions, "transitions", "", "the machine's moves, 'from:to,to;from:to' (with --states; default any move)")
}

// given reports whether a machine was named.
func (m *machineFlags) given() bool { return m.file != "" || len(m.states) > 0 }

// machine builds the Machine the flags name.
func (m *machineFlags) machine() (batchstate.Machine, error) {
	if m.file != "" {
		if len(m.states) > 0 || len(m.terminal) > 0 || m.transitions != "" {
			return batchstate.Machine{}, usagef("--machine and --states / --terminal / --transitions exclude each other")
		}
		b, err := os.ReadFile(m.file)
		if err != nil {
			return batchstate.Machine{}, usagef("--machine: %v", err)
		}
		var mc batchstate.Machine
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&mc); err != nil {
			return batchstate.Machine{}, usagef("--machine %s: %v", m.file, err)
		}
		return mc, validMachine(mc)
	}
	mc := batchstate.Machine{States: m.states, Terminal: m.terminal}
	if mc.Terminal == nil {
		mc.Terminal = []string{}
	}
	if m.transitions != "" {
		mc.Transitions = map[string][]string{}
		for part := range strings.SplitSeq(m.transitions, ";") {
			from, tos, ok := strings.Cut(strings.TrimSpace(part), ":")
			if !ok || from == "" {
				return batchstate.Machine{}, usagef("--transitions %q: want 'from:to,to;from:to'", m.transitions)
			}
			for to := range strings.SplitSeq(tos, ",") {
				if to = strings.TrimSpace(to); to != "" {
					mc.Transitions[from] = append(mc.Transitions[from], to)
				}
			}
		}
	}
	return mc, validMachine(mc)
}

func validMachine(m batchstate.Machine) error {
	if err := m.Validate(); err != nil {
		return usagef("the queue's machine: %v", err)
	}
	return nil
}

// listValue is a repeatable flag whose values may also be comma-separated.
type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }

func (l *listValue) Set(s string) error {
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

func queueCommands() []*command {
	var m machineFlags
	var states listValue
	var grace time.Duration
	return []*command{
		{name: "list", args: "<queue>", nargs: 1,
			summary: "the batches in the given states (batchstate List)",
			help: `Lists the batches of the queue stored in the states asked for
(--state, repeatable or comma-separated; default every non-terminal state of
the machine), as batchstate's List returns them: read through the index and
checked against each batch row. Without --machine or --states the --state
values are the states read.`,
			flags: func(fs *flag.FlagSet) {
				m.register(fs)
				fs.Var(&states, "state", "a state to list (repeatable, or comma-separated)")
			},
			run: func(ctx context.Context, e *env, args []string) error { return queueList(ctx, e, args[0], &m, states) }},
		{name: "show", args: "<queue> <batch-id>", nargs: 2,
			summary: "one batch and its index rows",
			help: `Prints the batch row and, when the machine is given (--machine or --states),
batchstate's Orchestrator.Explain: the state the batch is listed in and
each of its rows in the non-terminal states with why it is there (live, left
by a move, a write in flight or stalled past the default grace, final) and
what Reconcile does with it. Key rows need the application's index
functions, which the command does not have. Writes nothing.`,
			flags: m.register,
			run:   func(ctx context.Context, e *env, args []string) error { return queueShow(ctx, e, args[0], args[1], &m) }},
		{name: "reconcile", args: "<queue>", nargs: 1,
			summary: "one Reconcile of the queue's index (batchstate Reconcile)",
			help: `Runs one batchstate Reconcile of the queue and prints its report. It needs
the queue's whole machine (--machine, or --states and --terminal), the one
the application uses: a state wrongly named terminal has its index rows
removed, and List then misses its batches. --grace is the dangling grace
(batchstate WithDanglingGrace): choose it longer than the slowest Create or
Transition of the application.`,
			flags: func(fs *flag.FlagSet) {
				m.register(fs)
				fs.DurationVar(&grace, "grace", batchstate.DefaultDanglingGrace, "how old an unfinished write's row must be before Reconcile fences it off")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				return queueReconcile(ctx, e, args[0], &m, grace)
			}},
		queuePruneCommand(),
	}
}

// batchView is a batch in -o json.
type batchView struct {
	Queue        string     `json:"queue"`
	ID           string     `json:"id"`
	State        string     `json:"state"`
	Version      int64      `json:"version"`
	PayloadBytes int        `json:"payload_bytes"`
	CreatedAt    *time.Time `json:"created_at"`
	UpdatedAt    *time.Time `json:"updated_at"`
}

func viewBatch(b storage.Batch) batchView {
	return batchView{Queue: b.Queue, ID: b.ID, State: b.State, Version: b.Version, PayloadBytes: len(b.Payload),
		CreatedAt: jsonTime(b.CreatedAt), UpdatedAt: jsonTime(b.UpdatedAt)}
}

// withOrchestrator opens the store of queue, runs f with an Orchestrator of
// m over it (the CLI's logger, then opts) and releases the store.
func (e *env) withOrchestrator(ctx context.Context, queue string, m batchstate.Machine, opts []batchstate.Option,
	f func(*batchstate.Orchestrator) error,
) error {
	return e.withStore(ctx, []string{"queue", queue}, func(s storage.Store) error {
		o, err := batchstate.New(s, s, m, append([]batchstate.Option{batchstate.WithLogger(e.log)}, opts...)...)
		if err != nil {
			return err
		}
		return f(o)
	})
}

func queueList(ctx context.Context, e *env, queue string, mf *machineFlags, states []string) error {
	var m batchstate.Machine
	switch {
	case mf.given():
		var err error
		if m, err = mf.machine(); err != nil {
			return err
		}
		if len(states) == 0 {
			states = m.NonTerminal()
		}
	case len(states) == 0:
		return usagef("queue list needs --state, or the machine (--machine or --states)")
	default:
		m = batchstate.Machine{States: slices.Compact(slices.Sorted(slices.Values(states))), Terminal: []string{}}
		if err := validMachine(m); err != nil {
			return err
		}
	}
	for _, s := range states {
		if !m.Known(s) || m.IsTerminal(s) {
			return usagef("--state %q: not a non-terminal state of the machine", s)
		}
	}
	return e.withOrchestrator(ctx, queue, m, nil, func(o *batchstate.Orchestrator) error {
		batches, err := o.List(ctx, queue, states...)
		if err != nil {
			return fmt.Errorf("list queue %q: %w", queue, err)
		}
		slices.SortFunc(batches, func(a, b storage.Batch) int { return strings.Compare(a.ID, b.ID) })
		if e.output == "json" {
			out := struct {
				Store   string      `json:"store"`
				Queue   string      `json:"queue"`
				States  []string    `json:"states"`
				Batches []batchView `json:"batches"`
			}{e.where(), queue, states, []batchView{}}
			for _, b := range batches {
				out.Batches = append(out.Batches, viewBatch(b))
			}
			return e.emitJSON(out)
		}
		t := newTable("BATCH", "STATE", "VERSION", "UPDATED", "PAYLOAD")
		for _, b := range batches {
			t.row(b.ID, b.State, fmt.Sprint(b.Version), when(b.UpdatedAt), fmt.Sprintf("%d bytes", len(b.Payload)))
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n%d batch(es) of queue %s in %s\n", t.String(), len(batches), queue, strings.Join(states, ", "))
		return err
	})
}

// memberView is an index row in -o json.
type memberView struct {
	State   string     `json:"state"`
	Version int64      `json:"version"`
	AddedAt *time.Time `json:"added_at"`
	Current bool       `json:"current"`
	Reason  string     `json:"reason"`
	Why     string     `json:"why"`
}

// explainRows reads, with batchstate's Orchestrator.Explain, where batch
// id of queue is listed and each of its state rows with why it is there.
func explainRows(ctx context.Context, s storage.Store, m batchstate.Machine, queue, id string) (batchstate.BatchExplanation, []memberView, error) {
	o, err := batchstate.New(s, s, m)
	if err != nil {
		return batchstate.BatchExplanation{}, nil, err
	}
	x, err := o.Explain(ctx, queue, id)
	if err != nil {
		return x, nil, fmt.Errorf("explain batch %q of queue %q: %w", id, queue, err)
	}
	rows := []memberView{}
	for _, r := range x.Rows {
		rows = append(rows, memberView{State: r.State, Version: r.Row.Version, AddedAt: jsonTime(r.Row.AddedAt),
			Current: r.Reason == batchstate.RowLive, Reason: string(r.Reason), Why: r.Reason.Describe()})
	}
	return x, rows, nil
}

func queueShow(ctx context.Context, e *env, queue, id string, mf *machineFlags) error {
	var m batchstate.Machine
	if mf.given() {
		var err error
		if m, err = mf.machine(); err != nil {
			return err
		}
	}
	return e.withStore(ctx, []string{"queue", queue, "batch id", id}, func(s storage.Store) error {
		b, err := s.GetBatch(ctx, queue, id)
		if err != nil {
			return fmt.Errorf("batch %q of queue %q: %w", id, queue, err)
		}
		var x batchstate.BatchExplanation
		rows := []memberView{}
		if mf.given() {
			if x, rows, err = explainRows(ctx, s, m, queue, id); err != nil {
				return err
			}
		}
		if e.output == "json" {
			return e.emitJSON(struct {
				Store     string       `json:"store"`
				Batch     batchView    `json:"batch"`
				IndexRows []memberView `json:"index_rows"`
				Indexed   bool         `json:"index_read"`
				ListedIn  string       `json:"listed_in"`
				Missing   []string     `json:"missing"`
			}{e.where(), viewBatch(b), rows, mf.given(), x.ListedIn, orEmpty(x.Missing)})
		}
		head := newTable()
		head.row("queue", b.Queue)
		head.row("batch", b.ID)
		head.row("state", b.State)
		head.row("version", fmt.Sprint(b.Version))
		head.row("created", when(b.CreatedAt))
		head.row("updated", when(b.UpdatedAt))
		head.row("payload", fmt.Sprintf("%d bytes", len(b.Payload)))
		out := head.String()
		if !mf.given() {
			out += "\nindex rows: not read (give the machine, --machine or --states, to read them)\n"
		} else {
			out += "\nindex rows (batchstate's Orchestrator.Explain, default grace):\n" + indent(x.String())
		}
		_, err = fmt.Fprint(e.stdout, out)
		return err
	})
}

func queueReconcile(ctx context.Context, e *env, queue string, mf *machineFlags, grace time.Duration) error {
	if !mf.given() {
		return usagef("queue reconcile needs the queue's whole machine: --machine, or --states and --terminal")
	}
	m, err := mf.machine()
	if err != nil {
		return err
	}
	if grace <= 0 {
		return usagef("--grace %v: must be positive", grace)
	}
	return e.withOrchestrator(ctx, queue, m, []batchstate.Option{batchstate.WithDanglingGrace(grace)}, func(o *batchstate.Orchestrator) error {
		r, err := o.Reconcile(ctx, queue)
		if err != nil {
			return fmt.Errorf("reconcile queue %q: %w", queue, err)
		}
		if e.output == "json" {
			if r.Unresolved == nil {
				r.Unresolved = []string{}
			}
			return e.emitJSON(struct {
				Store           string   `json:"store"`
				Queue           string   `json:"queue"`
				Scanned         int      `json:"scanned"`
				RemovedTerminal int      `json:"removed_terminal"`
				RemovedStale    int      `json:"removed_stale"`
				RemovedDangling int      `json:"removed_dangling"`
				Fenced          int      `json:"fenced"`
				Kept            int      `json:"kept"`
				Unresolved      []string `json:"unresolved"`
			}{e.where(), queue, r.Scanned, r.RemovedTerminal, r.RemovedStale, r.RemovedDangling, r.Fenced, r.Kept, r.Unresolved})
		}
		t := newTable()
		t.row("queue", queue)
		t.row("rows scanned", fmt.Sprint(r.Scanned))
		t.row("removed: terminal", fmt.Sprint(r.RemovedTerminal))
		t.row("removed: stale", fmt.Sprint(r.RemovedStale))
		t.row("removed: dangling", fmt.Sprint(r.RemovedDangling))
		t.row("fenced", fmt.Sprint(r.Fenced))
		t.row("kept", fmt.Sprint(r.Kept))
		t.row("unresolved", orDash(strings.Join(r.Unresolved, ", ")))
		_, err = fmt.Fprint(e.stdout, t.String())
		return err
	})
}

// orEmpty is ids, or an empty list for JSON when there is none.
func orEmpty(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}
