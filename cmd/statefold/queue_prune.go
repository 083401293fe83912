package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// retentionFlags are the flags of queue prune and apply prune that say
// what is old enough to prune and how much one call prunes.
type retentionFlags struct {
	retention optionalValue[time.Duration]
	before    optionalValue[time.Time]
	since     optionalValue[time.Time]
	limit     int
	all       bool
}

func (r *retentionFlags) register(fs *flag.FlagSet, maxLimit int) {
	r.retention = optionalValue[time.Duration]{parse: parseDays, format: time.Duration.String}
	r.before = optionalValue[time.Time]{parse: parseTime, format: func(t time.Time) string { return t.Format(time.RFC3339) }}
	r.since = r.before
	fs.Var(&r.retention, "retention", "prune what finished longer ago than this (`duration`: 720h, 30d); or --before")
	fs.Var(&r.before, "before", "prune what finished before this `time` (RFC 3339, or a date 2026-01-31 in UTC); or --retention")
	fs.Var(&r.since, "since", "read the finished index from this `time`'s UTC day on (default: the longest range one call reads, 366 days)")
	fs.IntVar(&r.limit, "limit", 1000, fmt.Sprintf("the most a call prunes (1 to %d)", maxLimit))
	fs.BoolVar(&r.all, "all", false, "call again while the report says more, until nothing old enough is left")
}

// window returns [since, before) at now, checked; maxLimit bounds --limit.
func (r *retentionFlags) window(now time.Time, maxRange time.Duration, maxLimit int) (since, before time.Time, err error) {
	switch {
	case r.retention.set == r.before.set:
		return since, before, usagef("give exactly one of --retention and --before")
	case r.retention.set && r.retention.v <= 0:
		return since, before, usagef("--retention %v: must be positive", r.retention.v)
	case r.limit < 1 || r.limit > maxLimit:
		return since, before, usagef("--limit %d: 1 to %d", r.limit, maxLimit)
	}
	before = r.before.v
	if r.retention.set {
		before = now.Add(-r.retention.v)
	}
	since = before.Add(-maxRange)
	if r.since.set {
		since = r.since.v
	}
	if !before.After(since) || before.Sub(since) > maxRange {
		return since, before, usagef("--since %s to --before %s: empty, or longer than %s", since.Format(time.RFC3339), before.Format(time.RFC3339), maxRange)
	}
	return since, before, nil
}

// optionalValue is a flag that remembers whether it was given: parse reads
// its value, format spells it back.
type optionalValue[T any] struct {
	v      T
	set    bool
	parse  func(string) (T, error)
	format func(T) string
}

func (o *optionalValue[T]) String() string {
	if o == nil || !o.set {
		return ""
	}
	return o.format(o.v)
}

func (o *optionalValue[T]) Set(s string) error {
	v, err := o.parse(s)
	if err != nil {
		return err
	}
	o.v, o.set = v, true
	return nil
}

// parseDays reads a Go duration, or a number of days ("30d").
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q: a duration (720h) or a number of days (30d)", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: a duration (720h) or a number of days (30d)", s)
	}
	return d, nil
}

// parseTime reads an RFC 3339 time or a date, in UTC.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: an RFC 3339 time (2026-01-31T00:00:00Z) or a date (2026-01-31)", s)
}

func queuePruneCommand() *command {
	var m machineFlags
	var r retentionFlags
	return &command{name: "prune", args: "<queue>", nargs: 1,
		summary: "prune the queue's old terminal batches (batchstate Prune)",
		help: `Runs batchstate's Prune over the queue: every batch that finished (entered a
terminal state) on a UTC day in [--since, --before) and before --before
(or longer ago than --retention) becomes a payload-less Abandoned tombstone
(its id stays taken) and loses its index rows. Only batches filed in the
finished index are found: the application must file them
(batchstate.WithFinishedIndex). It needs the queue's whole machine, the one
the application uses (--machine, or --states and --terminal): Prune re-checks
that each batch is terminal by it, so a state wrongly named terminal would
be pruned. One call prunes at most --limit batches; "more" says that some
are left: run it again, or give --all. Safe to interrupt and to run
beside other prunes: the next run resumes.`,
		flags: func(fs *flag.FlagSet) {
			m.register(fs)
			r.register(fs, batchstate.MaxPruneLimit)
		},
		run: func(ctx context.Context, e *env, args []string) error { return queuePrune(ctx, e, args[0], &m, &r) }}
}

func queuePrune(ctx context.Context, e *env, queue string, mf *machineFlags, r *retentionFlags) error {
	if !mf.given() {
		return usagef("queue prune needs the queue's whole machine: --machine, or --states and --terminal")
	}
	m, err := mf.machine()
	if err != nil {
		return err
	}
	since, before, err := r.window(time.Now(), batchstate.MaxFinishedRange, batchstate.MaxPruneLimit)
	if err != nil {
		return err
	}
	return e.withOrchestrator(ctx, queue, m, []batchstate.Option{batchstate.WithFinishedIndex()}, func(o *batchstate.Orchestrator) error {
		var sum batchstate.PruneReport
		calls := 0
		for more := true; more; {
			rep, err := o.Prune(ctx, queue, since, before, r.limit)
			calls++
			sum.Scanned, sum.Pruned, sum.Cleaned, sum.Kept = sum.Scanned+rep.Scanned, sum.Pruned+rep.Pruned, sum.Cleaned+rep.Cleaned, sum.Kept+rep.Kept
			sum.More, more = rep.More, rep.More && r.all
			if err != nil {
				return fmt.Errorf("prune queue %q (%d batch(es) pruned so far): %w", queue, sum.Pruned, err)
			}
		}
		return e.printPrune(pruneView{Store: e.where(), Queue: queue, Since: since.UTC(), Before: before.UTC(), Calls: calls,
			Scanned: sum.Scanned, Pruned: sum.Pruned, Cleaned: sum.Cleaned, Kept: sum.Kept, More: sum.More})
	})
}

func applyPruneCommand() *command {
	var l listFlags
	var r retentionFlags
	return &command{name: "prune", args: "--namespace NS", nargs: 0,
		summary: "prune old terminal applies (Projector.PruneFinished)",
		help: `Runs applystate's PruneFinished over the finished-applies index the
application keeps (applystate.WithDiscovery: give the same --namespace and
--shards): every apply that completed on a UTC day in [--since, --before)
and before --before (or longer ago than --retention) loses its operation
rows and its payload; the apply row stays, terminal, as the id's tombstone.
A non-terminal apply is never touched. Applies that finished before the
application kept the index are not in it (prune them by id with
Projector.Prune). One call prunes at most --limit applies; "more" says that
some are left: run it again with --since the reported next day, or give
--all. Safe to interrupt and to run beside other prunes.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&l.namespace, "namespace", "", "the index's namespace, as the application's WithDiscovery (required)")
			fs.IntVar(&l.shards, "shards", 0, "the index's shards, as the application's WithDiscovery (0: applystate.DefaultShards)")
			r.register(fs, applystate.MaxPruneFinishedLimit)
		},
		run: func(ctx context.Context, e *env, _ []string) error { return applyPrune(ctx, e, &l, &r) }}
}

func applyPrune(ctx context.Context, e *env, l *listFlags, r *retentionFlags) error {
	if l.namespace == "" {
		return usagef("apply prune needs --namespace, the one the application gives WithDiscovery")
	}
	since, before, err := r.window(time.Now(), applystate.MaxFinishedRange, applystate.MaxPruneFinishedLimit)
	if err != nil {
		return err
	}
	return e.withStore(ctx, []string{"namespace", l.namespace}, func(s storage.Store) error {
		p, err := applystate.NewProjector(s, s, applystate.WithLogger(e.log), applystate.WithDiscovery(s, l.namespace, l.shards))
		if err != nil {
			return usagef("%v", err)
		}
		var sum applystate.PruneReport
		calls, from := 0, since
		for more := true; more; {
			rep, err := p.PruneFinished(ctx, from, before, r.limit)
			calls++
			sum.Scanned, sum.Pruned, sum.Operations = sum.Scanned+rep.Scanned, sum.Pruned+rep.Pruned, sum.Operations+rep.Operations
			sum.Cleaned, sum.Kept, sum.More, sum.Next = sum.Cleaned+rep.Cleaned, sum.Kept+rep.Kept, rep.More, rep.Next
			if err != nil {
				return fmt.Errorf("prune finished applies (%d pruned so far): %w", sum.Pruned, err)
			}
			from, more = rep.Next, rep.More && r.all
		}
		ops, next := sum.Operations, sum.Next.UTC()
		return e.printPrune(pruneView{Store: e.where(), Namespace: l.namespace, Since: since.UTC(), Before: before.UTC(), Calls: calls,
			Scanned: sum.Scanned, Pruned: sum.Pruned, Operations: &ops, Cleaned: sum.Cleaned, Kept: sum.Kept, More: sum.More, Next: &next})
	})
}

// pruneView is the report of queue prune (Queue) or apply prune
// (Namespace, Operations, Next) in -o json.
type pruneView struct {
	Store      string     `json:"store"`
	Queue      string     `json:"queue,omitempty"`
	Namespace  string     `json:"namespace,omitempty"`
	Since      time.Time  `json:"since"`
	Before     time.Time  `json:"before"`
	Calls      int        `json:"calls"`
	Scanned    int        `json:"scanned"`
	Pruned     int        `json:"pruned"`
	Operations *int       `json:"operations,omitempty"`
	Cleaned    int        `json:"cleaned"`
	Kept       int        `json:"kept"`
	More       bool       `json:"more"`
	Next       *time.Time `json:"next,omitempty"`
}

// printPrune prints a prune's report: one JSON value, or a table.
func (e *env) printPrune(v pruneView) error {
	if e.output == "json" {
		return e.emitJSON(v)
	}
	t := newTable()
	if v.Queue != "" {
		t.row("queue", v.Queue)
	} else {
		t.row("namespace", v.Namespace)
	}
	t.row("finished", fmt.Sprintf("from %s, before %s", v.Since.Format(time.DateOnly), when(v.Before)))
	t.row("rows scanned", fmt.Sprint(v.Scanned))
	t.row("pruned", fmt.Sprint(v.Pruned))
	if v.Operations != nil {
		t.row("operations deleted", fmt.Sprint(*v.Operations))
	}
	t.row("cleaned", fmt.Sprint(v.Cleaned))
	t.row("kept", fmt.Sprint(v.Kept))
	t.row("more", yesNo(v.More))
	if v.Next != nil {
		t.row("next --since", v.Next.Format(time.DateOnly))
	}
	_, err := fmt.Fprint(e.stdout, t.String())
	return err
}
