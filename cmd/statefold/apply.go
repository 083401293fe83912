package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
)

func applyCommands() []*command {
	var list listFlags
	return []*command{
		{name: "list", args: "--open", nargs: 0, flags: list.register,
			run:     func(ctx context.Context, e *env, _ []string) error { return applyList(ctx, e, &list) },
			summary: "the open applies (Projector.ListOpen)",
			help: `Lists the applies that are not terminal, from the open-applies index the
application keeps (applystate.WithDiscovery): give the same --namespace and
--shards as the application. Only --open is offered: no index holds every
apply. ListOpen removes the stale index rows it meets (terminal applies,
applies that never came to exist past the grace); it writes nothing else.`},
		{name: "show", args: "<apply-id>", nargs: 1, run: applyShow,
			summary: "the apply, its operation rows and why it is in its state",
			help: `Prints the apply (state, flags, message), a table of its operation rows in
rollout order (state, failure policy as declared and as the rollout applies
it, owner lease) and the explanation of applystate.Explain: the rule that
decided the state, the operations that matter (the failures halting or
pausing it, those holding it open, those not started) and what would
change it. Writes nothing.`},
		{name: "stop", args: "<apply-id>", nargs: 1, run: applyAction("stop"),
			summary: "request a stop (Projector.Stop)",
			help: `Requests a stop: records StopRequested, moves every operation whose start
nobody claimed to stopped and reprojects. Operations that started are left
to their drive loops, which are told DoNotStart. Idempotent: run it again
after an error.`},
		{name: "release", args: "<apply-id>", nargs: 1, run: applyAction("release"),
			summary: "release the failures holding a pause (Projector.ReleasePause)",
			help: `Releases every failed operation under the pause policy (it then counts as
continue) and reprojects. A failure under pause that happens afterwards
holds the rollout again.`},
		{name: "reproject", args: "<apply-id>", nargs: 1, run: applyAction("reproject"),
			summary: "project the apply over its stored rows (Projector.Reproject)",
			help: `Projects the apply over its stored operation rows and writes it when it
changed: the repair after a crash between an operation write and the apply
write; it also finishes a stop that was interrupted.`},
		applyPruneCommand(),
	}
}

// applyView is an apply in -o json.
type applyView struct {
	ID            string     `json:"id"`
	State         string     `json:"state"`
	ErrorMessage  string     `json:"error_message,omitempty"`
	StopRequested bool       `json:"stop_requested"`
	PauseReleased bool       `json:"pause_released"`
	StartedAt     *time.Time `json:"started_at"`
	CompletedAt   *time.Time `json:"completed_at"`
	PayloadBytes  int        `json:"payload_bytes"`
	Version       int64      `json:"version"`
	CreatedAt     *time.Time `json:"created_at"`
	UpdatedAt     *time.Time `json:"updated_at"`
}

func viewApply(a storage.Apply) applyView {
	return applyView{
		ID: a.ID, State: a.State, ErrorMessage: a.ErrorMessage,
		StopRequested: a.StopRequested, PauseReleased: a.PauseReleased,
		StartedAt: jsonTime(a.StartedAt), CompletedAt: jsonTime(a.CompletedAt),
		PayloadBytes: len(a.Payload), Version: a.Version,
		CreatedAt: jsonTime(a.CreatedAt), UpdatedAt: jsonTime(a.UpdatedAt),
	}
}

// operationView is an operation row in -o json.
type operationView struct {
	ID           string     `json:"id"`
	Seq          int64      `json:"seq"`
	Deployment   string     `json:"deployment"`
	Group        string     `json:"group,omitempty"`
	Finalizer    bool       `json:"finalizer"`
	State        string     `json:"state"`
	StartClaimed bool       `json:"start_claimed"`
	OnFailure    string     `json:"on_failure"`
	Policy       string     `json:"effective_policy"`
	Orphaned     bool       `json:"orphaned"`
	ErrorMessage string     `json:"error_message,omitempty"`
	StartedAt    *time.Time `json:"started_at"`
	CompletedAt  *time.Time `json:"completed_at"`
	ReleasedAt   *time.Time `json:"released_at"`
	Projected    bool       `json:"projected"` // acknowledged (applystate.Acknowledged)
	Owner        string     `json:"owner,omitempty"`
	OwnerToken   int64      `json:"owner_token"`
	OwnerUntil   *time.Time `json:"owner_until"`
	PayloadBytes int        `json:"payload_bytes"`
	Version      int64      `json:"version"`
	UpdatedAt    *time.Time `json:"updated_at"`
}

// explanationView is applystate.Explain's explanation in -o json.
type explanationView struct {
	State           string   `json:"state"`
	Rule            string   `json:"rule"`
	RuleDescription string   `json:"rule_description"`
	Stored          string   `json:"stored"`
	Stale           bool     `json:"stale"`
	StopRequested   bool     `json:"stop_requested"`
	PauseReleased   bool     `json:"pause_released"`
	Failed          []string `json:"failed"`
	Halting         []string `json:"halting"`
	Pausing         []string `json:"pausing"`
	Released        []string `json:"released"`
	Holding         []string `json:"holding"`
	Active          []string `json:"active"`
	NotStarted      []string `json:"not_started"`
	Inert           []string `json:"inert"`
	ToStop          []string `json:"to_stop"`
	Changes         []string `json:"changes"`
}

func viewExplanation(x applystate.Explanation) explanationView {
	list := func(ids []string) []string {
		if ids == nil {
			return []string{}
		}
		return ids
	}
	return explanationView{
		State: string(x.State), Rule: string(x.Rule), RuleDescription: x.Rule.Describe(), Stored: string(x.Stored),
		Stale: x.Stale, StopRequested: x.StopRequested, PauseReleased: x.PauseReleased,
		Failed: list(x.Failed), Halting: list(x.Halting), Pausing: list(x.Pausing), Released: list(x.Released),
		Holding: list(x.Holding), Active: list(x.Active), NotStarted: list(x.NotStarted), Inert: list(x.Inert),
		ToStop: list(x.ToStop), Changes: list(x.Changes),
	}
}

type applyShowView struct {
	Store       string          `json:"store"`
	Apply       applyView       `json:"apply"`
	Operations  []operationView `json:"operations"`
	Explanation explanationView `json:"explanation"`
}

func applyShow(ctx context.Context, e *env, args []string) error {
	id := args[0]
	return e.withStore(ctx, []string{"apply id", id}, func(s storage.Store) error {
		a, err := s.GetApply(ctx, id)
		if err != nil {
			return fmt.Errorf("apply %q: %w", id, err)
		}
		ops, err := s.ListOperations(ctx, id)
		if err != nil {
			return fmt.Errorf("operations of apply %q: %w", id, err)
		}
		slices.SortFunc(ops, func(x, y storage.Operation) int { return cmp.Or(cmp.Compare(x.Seq, y.Seq), cmp.Compare(x.ID, y.ID)) })
		children := applystate.Children(ops) // in the same (Seq, ID) order
		x := applystate.Explain(a, ops)
		v := applyShowView{Store: e.where(), Apply: viewApply(a), Explanation: viewExplanation(x)}
		for i, op := range ops {
			v.Operations = append(v.Operations, viewOperation(op, children[i]))
		}
		if e.output == "json" {
			return e.emitJSON(v)
		}
		_, err = fmt.Fprint(e.stdout, renderApply(v, a)+"\nexplanation:\n"+indent(x.String()))
		return err
	})
}

// renderApply is apply show's table output but for the explanation.
func renderApply(v applyShowView, a storage.Apply) string {
	var b strings.Builder
	head := newTable()
	head.row("apply", a.ID)
	head.row("state", a.State)
	head.row("error", orDash(a.ErrorMessage))
	head.row("stop requested", yesNo(a.StopRequested))
	if a.PauseReleased {
		head.row("pause released", "yes (every pause, as an earlier release recorded it)")
	}
	head.row("started", when(a.StartedAt))
	head.row("completed", when(a.CompletedAt))
	head.row("version", fmt.Sprint(a.Version))
	head.row("updated", when(a.UpdatedAt))
	b.WriteString(head.String())
	b.WriteString("\noperations:\n")
	t := newTable("SEQ", "OPERATION", "DEPLOYMENT", "STATE", "POLICY", "STARTED", "COMPLETED", "OWNER", "VERSION", "ERROR")
	now := time.Now()
	for _, o := range v.Operations {
		state := o.State
		if o.StartClaimed {
			state += " (start claimed)"
		}
		if o.Orphaned {
			state += " (orphaned finalizer)"
		}
		policy := o.OnFailure
		if policy != o.Policy {
			policy += " → " + o.Policy
		}
		t.row(fmt.Sprint(o.Seq), o.ID, orDash(o.Deployment), state, policy,
			when(deref(o.StartedAt)), when(deref(o.CompletedAt)), owner(o, now), fmt.Sprint(o.Version), orDash(o.ErrorMessage))
	}
	b.WriteString(t.String())
	return b.String()
}

// indent indents every line of s by two spaces.
func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "")
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func owner(o operationView, now time.Time) string {
	if o.Owner == "" {
		return "-"
	}
	until := deref(o.OwnerUntil)
	lease := "lapsed"
	switch {
	case until.IsZero():
		lease = "released"
	case until.After(now):
		lease = "until " + until.Format(time.RFC3339)
	}
	return fmt.Sprintf("%s (token %d, %s)", o.Owner, o.OwnerToken, lease)
}

func viewOperation(op storage.Operation, ch applystate.Child) operationView {
	return operationView{
		ID: op.ID, Seq: op.Seq, Deployment: op.Deployment, Group: op.Group, Finalizer: op.Finalizer,
		State:        string(applystate.Normalize(op.State)),
		StartClaimed: applystate.Normalize(op.State) == applystate.Pending && !op.StartedAt.IsZero(),
		OnFailure:    cmp.Or(op.OnFailure, string(applystate.Halt)), Policy: string(ch.OnFailure), Orphaned: ch.Orphaned,
		ErrorMessage: op.ErrorMessage,
		StartedAt:    jsonTime(op.StartedAt), CompletedAt: jsonTime(op.CompletedAt), ReleasedAt: jsonTime(op.ReleasedAt),
		Projected: applystate.Acknowledged(op), Owner: op.Owner, OwnerToken: op.OwnerToken, OwnerUntil: jsonTime(op.OwnerUntil),
		PayloadBytes: len(op.Payload), Version: op.Version, UpdatedAt: jsonTime(op.UpdatedAt),
	}
}

// applyAction runs Stop, ReleasePause or Reproject.
func applyAction(which string) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		id := args[0]
		return e.withStore(ctx, []string{"apply id", id}, func(s storage.Store) error {
			p, err := applystate.NewProjector(s, s, applystate.WithLogger(e.log))
			if err != nil {
				return err
			}
			var res applystate.Result
			switch which {
			case "stop":
				res, err = p.Stop(ctx, id)
			case "release":
				res, err = p.ReleasePause(ctx, id)
			default:
				res, err = p.Reproject(ctx, id)
			}
			if err != nil {
				return fmt.Errorf("%s apply %q: %w", which, id, err)
			}
			if e.output == "json" {
				return e.emitJSON(struct {
					Store        string    `json:"store"`
					Action       string    `json:"action"`
					Apply        applyView `json:"apply"`
					Previous     string    `json:"previous"`
					Changed      bool      `json:"changed"`
					Terminalized bool      `json:"terminalized"`
					Undetermined bool      `json:"undetermined"`
				}{e.where(), which, viewApply(res.Apply), string(res.Previous), res.Changed, res.Terminalized, res.Undetermined})
			}
			t := newTable()
			t.row("apply", res.Apply.ID)
			t.row("state", fmt.Sprintf("%s (was %s)", res.Apply.State, res.Previous))
			t.row("written", yesNo(res.Changed))
			if res.Terminalized {
				t.row("terminalized", "yes, by this call")
			}
			if res.Undetermined {
				t.row("undetermined", "yes: the rows do not decide the state yet")
			}
			t.row("stop requested", yesNo(res.Apply.StopRequested))
			_, err = fmt.Fprint(e.stdout, t.String())
			return err
		})
	}
}

// listFlags are apply list's flags.
type listFlags struct {
	open      bool
	namespace string
	shards    int
}

func (l *listFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&l.open, "open", false, "list the applies that are not terminal (required)")
	fs.StringVar(&l.namespace, "namespace", "", "the open-applies index's namespace, as the application's WithDiscovery (required)")
	fs.IntVar(&l.shards, "shards", 0, "the index's shards, as the application's WithDiscovery (0: applystate.DefaultShards)")
}

func applyList(ctx context.Context, e *env, l *listFlags) error {
	if !l.open {
		return usagef("apply list needs --open: only the open applies are indexed")
	}
	if l.namespace == "" {
		return usagef("apply list --open needs --namespace, the one the application gives WithDiscovery")
	}
	return e.withStore(ctx, []string{"namespace", l.namespace}, func(s storage.Store) error {
		p, err := applystate.NewProjector(s, s, applystate.WithLogger(e.log), applystate.WithDiscovery(s, l.namespace, l.shards))
		if err != nil {
			return usagef("%v", err)
		}
		open, err := p.ListOpen(ctx)
		if err != nil {
			return fmt.Errorf("list open applies: %w", err)
		}
		slices.SortFunc(open, func(a, b storage.Apply) int { return strings.Compare(a.ID, b.ID) })
		if e.output == "json" {
			out := struct {
				Store   string      `json:"store"`
				Applies []applyView `json:"applies"`
			}{e.where(), []applyView{}}
			for _, a := range open {
				out.Applies = append(out.Applies, viewApply(a))
			}
			return e.emitJSON(out)
		}
		t := newTable("APPLY", "STATE", "STOP", "STARTED", "UPDATED", "ERROR")
		for _, a := range open {
			t.row(a.ID, a.State, yesNo(a.StopRequested), when(a.StartedAt), when(a.UpdatedAt), orDash(a.ErrorMessage))
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n%d open apply(s)\n", t.String(), len(open))
		return err
	})
}
