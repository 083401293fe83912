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
			summary: "the apply, its operation rows and the rollout facts",
			help: `Prints the apply (state, flags, message), a table of its operation rows in
rollout order (state, failure policy as declared and as the rollout applies
it, owner lease) and the facts of the rollout computed from the rows with
applystate's exported rules: the state the rows project to, the failures
and the operations holding the apply open. Writes nothing.`},
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
	Projected    bool       `json:"projected"`
	Owner        string     `json:"owner,omitempty"`
	OwnerToken   int64      `json:"owner_token"`
	OwnerUntil   *time.Time `json:"owner_until"`
	PayloadBytes int        `json:"payload_bytes"`
	Version      int64      `json:"version"`
	UpdatedAt    *time.Time `json:"updated_at"`
}

// rolloutFacts are what apply show computes from the rows with the
// exported rules.
type rolloutFacts struct {
	// Projected is applystate.Rollout over applystate.Children of the
	// rows, with the apply's flags.
	Projected string `json:"projected"`
	// Matches reports that the stored state is the projection.
	Matches bool `json:"matches_stored"`
	// Counts is how many operations are in each state.
	Counts map[string]int `json:"counts"`
	// Failed, Active and NotStarted list operation ids in rollout order.
	Failed     []string `json:"failed"`
	Active     []string `json:"active"`
	NotStarted []string `json:"not_started"`
	// Notes says in words what holds the apply and what would change it.
	Notes []string `json:"notes"`
}

type applyShowView struct {
	Store      string          `json:"store"`
	Apply      applyView       `json:"apply"`
	Operations []operationView `json:"operations"`
	Rollout    rolloutFacts    `json:"rollout"`
	// Explanation is reserved for applystate.Explain; null until it exists.
	Explanation any `json:"explanation"`
}

func applyShow(ctx context.Context, e *env, args []string) error {
	id := args[0]
	s, closeFn, err := e.openStore(ctx, "apply id", id)
	if err != nil {
		return err
	}
	defer closeFn()
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
	facts := computeFacts(a, ops, children, time.Now())
	v := applyShowView{Store: e.where(), Apply: viewApply(a), Rollout: facts}
	for i, op := range ops {
		v.Operations = append(v.Operations, viewOperation(op, children[i]))
	}
	if e.output == "json" {
		return e.emitJSON(v)
	}
	_, err = fmt.Fprint(e.stdout, renderApply(v, a)+"\n"+explanationSection(a, ops))
	return err
}

// renderApply is apply show's table output, but for the explanation.
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
	b.WriteString("\nrollout (from the rows, by applystate.Rollout over applystate.Children):\n")
	for _, n := range v.Rollout.Notes {
		b.WriteString("  " + n + "\n")
	}
	return b.String()
}

// explanationSection is where applystate.Explain's account of the apply
// goes once the library offers it; until then it says so.
func explanationSection(storage.Apply, []storage.Operation) string {
	return "explanation:\n  not available: this statefold has no applystate.Explain; the rollout facts above are computed from the rows\n"
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
		Projected: op.Projected, Owner: op.Owner, OwnerToken: op.OwnerToken, OwnerUntil: jsonTime(op.OwnerUntil),
		PayloadBytes: len(op.Payload), Version: op.Version, UpdatedAt: jsonTime(op.UpdatedAt),
	}
}

// computeFacts says, from the rows and applystate's exported rules, what
// the rollout is and what holds it. children is applystate.Children(ops),
// ops sorted in rollout order.
func computeFacts(a storage.Apply, ops []storage.Operation, children []applystate.Child, now time.Time) rolloutFacts {
	f := rolloutFacts{Counts: map[string]int{}, Failed: []string{}, Active: []string{}, NotStarted: []string{}}
	flags := applystate.Flags{StopRequested: a.StopRequested, PauseReleased: a.PauseReleased}
	stored := applystate.Normalize(a.State)
	var pauseHeld []string
	for i, op := range ops {
		ch := children[i]
		f.Counts[string(ch.State)]++
		switch {
		case ch.State == applystate.Failed:
			f.Failed = append(f.Failed, fmt.Sprintf("%s (%s)", op.ID, ch.OnFailure))
			if ch.OnFailure == applystate.Pause {
				pauseHeld = append(pauseHeld, op.ID)
			}
		case ch.Orphaned:
		case !ch.Started && (ch.State == applystate.Pending || ch.State == applystate.Stopped):
			f.NotStarted = append(f.NotStarted, op.ID)
		case !ch.State.Terminal():
			f.Active = append(f.Active, op.ID)
		}
	}
	if len(ops) == 0 {
		f.Projected, f.Matches = string(stored), true
		f.note("no operation rows: the apply's state is what its drive loops reported")
		return f
	}
	proj := applystate.Rollout(children, flags)
	f.Projected, f.Matches = string(proj), proj == stored
	f.addNotes(a, ops, pauseHeld, now)
	return f
}

func (f *rolloutFacts) note(format string, args ...any) {
	f.Notes = append(f.Notes, fmt.Sprintf(format, args...))
}

// addNotes says in words what the facts mean for the apply: whether the
// stored state is the projection, what holds it, what would change it.
func (f *rolloutFacts) addNotes(a storage.Apply, ops []storage.Operation, pauseHeld []string, now time.Time) {
	stored := applystate.Normalize(a.State)
	list := func(xs []string) string {
		if len(xs) == 0 {
			return "none"
		}
		return strings.Join(xs, ", ")
	}
	switch {
	case f.Matches:
		f.note("the rows project to %s, as stored", f.Projected)
	case stored.Terminal():
		f.note("the rows project to %s; the stored %s is terminal and final", f.Projected, stored)
	default:
		f.note("the rows project to %s, the apply stores %s: a drive loop's next poll, or `statefold apply reproject %s`, writes the projection", f.Projected, stored, a.ID)
	}
	f.note("failed: %s", list(f.Failed))
	f.note("in flight (holding the apply open): %s", list(f.Active))
	f.note("not started: %s", list(f.NotStarted))
	switch {
	case a.StopRequested && stored.Terminal():
		f.note("a stop was requested")
	case a.StopRequested:
		f.note("a stop was requested: the apply settles once %s report stopped or settle", list(f.Active))
	}
	if stored == applystate.Paused {
		f.note("paused by the failure of %s under the pause policy: `statefold apply release %s` releases it", list(pauseHeld), a.ID)
	}
	for _, op := range ops {
		if op.Owner != "" && !op.OwnerUntil.IsZero() && !op.OwnerUntil.After(now) && !applystate.Normalize(op.State).Terminal() {
			f.note("the lease of %s by %s lapsed at %s: another drive loop may take it over", op.ID, op.Owner, when(op.OwnerUntil))
		}
	}
}

// applyAction runs Stop, ReleasePause or Reproject.
func applyAction(which string) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		id := args[0]
		s, closeFn, err := e.openStore(ctx, "apply id", id)
		if err != nil {
			return err
		}
		defer closeFn()
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
	s, closeFn, err := e.openStore(ctx, "namespace", l.namespace)
	if err != nil {
		return err
	}
	defer closeFn()
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
}
