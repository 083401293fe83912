// Command rollout rolls one apply out to four deployments, each driven by
// its own drive loop (a goroutine) through an applystate.Projector, and
// prints a timeline: every poll, what the deployment reported, what Drive
// told it to do next, the apply state the projector stored and why.
//
// The plan is created with CreatePlan (validated, crash-safe, idempotent).
// Each drive loop owns its deployment's operation with a lease (Acquire,
// Renew, Drive with WithLease), as replicas of a deploy service would.
// The four deployments show the failure policies:
//
//	us-east     halt (default)  starts, completes
//	us-west     continue        starts, fails: the rollout goes on, degraded
//	eu-central  pause           starts, fails: the rollout pauses ...
//	ap-south    halt            asks to start while paused: Wait, ...
//
// ... until an operator releases the pause; then ap-south is told to
// proceed and completes. The apply ends failed (a deployment failed), and
// exactly one caller terminalizes it.
//
// Usage:
//
//	go run ./examples/rollout [-apply ID] [-store memory|mysql|postgres|dynamo] [-dsn DSN] [-endpoint URL]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/examples/internal/exstore"
	"github.com/statefold/statefold/storage"
)

func main() { exstore.Main("rollout", run) }

// deployment is one deployment of the plan and what its work will end in.
type deployment struct {
	name   string
	policy applystate.Policy
	final  applystate.State // completed or failed
}

// Report is what a run ends with.
type Report struct {
	Final        applystate.State
	ErrorMessage string
	Terminalizer string // the one deployment (or "operator") whose call terminalized the apply
	Terminalized int    // how many calls reported Terminalized
	Waited       bool   // ap-south was told to wait while the rollout was paused
}

// timeline collects rows from every goroutine and prints them in order.
type timeline struct {
	mu    sync.Mutex
	start time.Time
	tw    *tabwriter.Writer
	rep   Report
	store storage.Store
}

func (tl *timeline) row(ctx context.Context, who string, policy applystate.Policy, reported string, res applystate.Result) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	why := "?"
	if ops, err := tl.store.ListOperations(ctx, res.Apply.ID); err == nil {
		why = oneLine(applystate.Explain(res.Apply, ops))
	}
	if res.Terminalized {
		why += "; terminalized by " + who
		tl.rep.Terminalizer = who
		tl.rep.Terminalized++
	}
	next := "-"
	if res.Next != 0 {
		next = res.Next.String()
	}
	fmt.Fprintf(tl.tw, "%6.1fms\t%s\t%s\t%s\t%s\t%s\t%s\n",
		float64(time.Since(tl.start).Microseconds())/1000, who, policy, reported, next, res.Apply.State, why)
}

// oneLine is applystate.Explain's explanation in one line of the
// timeline: the rule that decided the state and the failures that matter.
func oneLine(e applystate.Explanation) string {
	parts := []string{e.Rule.Describe()}
	for _, l := range []struct {
		name string
		ids  []string
	}{{"halted by", e.Halting}, {"paused by", e.Pausing}, {"failed", e.Failed}, {"released", e.Released}} {
		if len(l.ids) > 0 {
			parts = append(parts, l.name+" "+strings.Join(l.ids, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

func run(ctx context.Context, w io.Writer, args []string) error {
	_, err := rollout(ctx, w, args)
	return err
}

func rollout(ctx context.Context, w io.Writer, args []string) (Report, error) {
	fs := flag.NewFlagSet("rollout", flag.ContinueOnError)
	fs.SetOutput(w)
	applyID := fs.String("apply", "rollout-demo", "the apply's id; a finished apply of that id is reported, not rolled out again")
	var sf exstore.Flags
	sf.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rollout [flags]\n\n"+
			"Rolls one apply out to four deployments with the halt, continue and pause\n"+
			"policies, each polled by its own drive loop, and prints the timeline.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Report{}, err
	}
	store, closeStore, err := sf.Open(ctx)
	if err != nil {
		return Report{}, err
	}
	defer closeStore()

	deps := []deployment{
		{name: "us-east", policy: applystate.Halt, final: applystate.Completed},
		{name: "us-west", policy: applystate.Continue, final: applystate.Failed},
		{name: "eu-central", policy: applystate.Pause, final: applystate.Failed},
		{name: "ap-south", policy: applystate.Halt, final: applystate.Completed},
	}
	plan := applystate.Plan{Apply: storage.Apply{ID: *applyID}}
	for i, d := range deps {
		plan.Operations = append(plan.Operations, storage.Operation{ID: d.name, Seq: int64(i + 1), Deployment: d.name, OnFailure: string(d.policy)})
	}
	p, err := applystate.NewProjector(store, store)
	if err != nil {
		return Report{}, err
	}
	a, _, err := p.CreatePlan(ctx, plan)
	if err != nil {
		return Report{}, err
	}
	if applystate.Normalize(a.State).Terminal() {
		fmt.Fprintf(w, "apply %s already finished: %s (%s); pass -apply with a new id to roll out again\n", a.ID, a.State, a.ErrorMessage)
		return Report{Final: applystate.State(a.State), ErrorMessage: a.ErrorMessage}, nil
	}

	tl := &timeline{start: time.Now(), tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0), store: store}
	fmt.Fprintf(tl.tw, "time\tdeployment\tpolicy\treported\tnext\tapply\twhy\n")

	var wg sync.WaitGroup
	errs := make(chan error, len(deps)+1)
	euDone := make(chan struct{}) // ap-south asks to start once eu-central failed
	waiting := make(chan struct{})
	for _, d := range deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var done chan<- struct{}
			switch d.name {
			case "eu-central":
				done = euDone
			case "ap-south":
				<-euDone
			}
			if err := driveLoop(ctx, p, tl, *applyID, d, done, waiting); err != nil {
				errs <- fmt.Errorf("%s: %w", d.name, err)
			}
		}()
	}
	// The operator: once ap-south was told to wait (the apply is paused on
	// eu-central's failure), release the pause.
	select {
	case <-waiting:
	case err := <-errs:
		return Report{}, err
	}
	res, err := p.ReleasePause(ctx, *applyID)
	if err != nil {
		return Report{}, err
	}
	tl.row(ctx, "operator", "", "release", res)
	wg.Wait()
	close(errs)
	for err := range errs {
		return Report{}, err
	}

	final, err := store.GetApply(ctx, *applyID)
	if err != nil {
		return Report{}, err
	}
	tl.rep.Final = applystate.State(final.State)
	tl.rep.ErrorMessage = final.ErrorMessage
	if err := tl.tw.Flush(); err != nil {
		return Report{}, err
	}
	fmt.Fprintf(w, "\napply %s: %s (%s); terminalized once, by %s\n",
		*applyID, final.State, final.ErrorMessage, tl.rep.Terminalizer)
	return tl.rep, nil
}

// leaseTTL is how long a drive loop owns its deployment's operation
// without renewing.
const leaseTTL = 30 * time.Second

// driveLoop is one deployment's drive loop: it owns the deployment's
// operation (a lease, so that a second replica of the loop could not drive
// it at the same time), polls with what it observes and acts on the
// directive — starts only on Proceed, waits on Wait, stops asking on
// DoNotStart.
func driveLoop(ctx context.Context, p *applystate.Projector, tl *timeline, applyID string, d deployment, done, waiting chan<- struct{}) error {
	lease, err := p.Acquire(ctx, applyID, d.name, "loop-"+d.name, leaseTTL)
	if err != nil {
		return err // ErrOwned: another replica drives this deployment
	}
	defer func() { _ = p.Release(ctx, lease) }()
	observed := applystate.Pending
	for {
		if time.Until(lease.Until) < leaseTTL/2 {
			if lease, err = p.Renew(ctx, lease, leaseTTL); err != nil {
				return err // ErrNotOwner: another replica took over
			}
		}
		task := applystate.Task{OperationID: d.name, State: observed}
		if observed == applystate.Failed {
			task.ErrorMessage = "health check failed"
		}
		res, err := p.Drive(ctx, applyID, []applystate.Task{task}, applystate.WithLease(lease))
		if err != nil {
			return err
		}
		tl.row(ctx, d.name, d.policy, string(observed), res)
		switch {
		case observed.Terminal():
			if done != nil {
				close(done)
			}
			return nil
		case res.Next == applystate.DoNotStart:
			return nil
		case res.Next == applystate.Wait:
			tl.mu.Lock()
			if !tl.rep.Waited {
				tl.rep.Waited = true
				close(waiting)
			}
			tl.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		case observed == applystate.Pending: // Proceed: start the work
			observed = applystate.Running
		default: // the work runs and ends
			time.Sleep(2 * time.Millisecond)
			observed = d.final
		}
	}
}
