// Command rollout rolls one apply out to four deployments, each driven from
// its own goroutine through an applystate.Projector, and prints a timeline:
// every drive, the operation state it reported, the apply state the projector
// stored, and who terminalized the apply (exactly one caller does).
//
// The four deployments show the failure policies:
//
//	us-east     halt (default)  running → completed
//	us-west     continue        running → failed      the rollout goes on, degraded
//	eu-central  pause           running → failed      the rollout pauses ...
//	ap-south    halt            waits for the release, then running → completed
//
// ... until an operator releases the pause. The apply ends failed (a
// deployment failed) only once nothing is in flight.
//
// Usage:
//
//	go run ./examples/rollout [-store memory|mysql|dynamo] [-dsn DSN] [-endpoint URL]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/examples/internal/exstore"
	"github.com/statefold/statefold/storage"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rollout:", err)
		os.Exit(1)
	}
}

type deployment struct {
	name   string
	policy applystate.Policy
	steps  []applystate.Task // OperationID filled in by run
	wait   <-chan struct{}   // if non-nil, start only once closed
}

// Report is what a run ends with.
type Report struct {
	Final        applystate.State
	ErrorMessage string
	Terminalizer string // the one deployment (or "operator") whose call terminalized the apply
	Terminalized int    // how many calls reported Terminalized
}

// timeline collects rows from every goroutine and prints them in order.
type timeline struct {
	mu    sync.Mutex
	start time.Time
	tw    *tabwriter.Writer
	rep   Report
}

func (tl *timeline) row(who string, op applystate.State, res applystate.Result) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	term := ""
	if res.Terminalized {
		term = "terminalized by " + who
		tl.rep.Terminalizer = who
		tl.rep.Terminalized++
	}
	fmt.Fprintf(tl.tw, "%6.1fms\t%s\t%s\t%s\t%s\n",
		float64(time.Since(tl.start).Microseconds())/1000, who, op, res.Apply.State, term)
}

func run(ctx context.Context, w io.Writer, args []string) error {
	_, err := rollout(ctx, w, args)
	return err
}

func rollout(ctx context.Context, w io.Writer, args []string) (Report, error) {
	fs := flag.NewFlagSet("rollout", flag.ContinueOnError)
	var sf exstore.Flags
	sf.Register(fs)
	if err := fs.Parse(args); err != nil {
		return Report{}, err
	}
	store, closeStore, err := sf.Open(ctx)
	if err != nil {
		return Report{}, err
	}
	defer closeStore()

	applyID := fmt.Sprintf("apply-%d", time.Now().UnixNano())
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := store.CreateApply(ctx, storage.Apply{ID: applyID, State: string(applystate.Pending), CreatedAt: now, UpdatedAt: now}); err != nil {
		return Report{}, err
	}

	released := make(chan struct{})
	deps := []deployment{
		{name: "us-east", policy: applystate.Halt, steps: tasks(applystate.Running, applystate.Completed)},
		{name: "us-west", policy: applystate.Continue, steps: tasks(applystate.Running, applystate.Failed)},
		{name: "eu-central", policy: applystate.Pause, steps: tasks(applystate.Running, applystate.Failed)},
		{name: "ap-south", policy: applystate.Halt, steps: tasks(applystate.Running, applystate.Completed), wait: released},
	}
	for i, d := range deps {
		op := storage.Operation{
			ApplyID: applyID, ID: d.name, Seq: int64(i + 1), Deployment: d.name,
			State: string(applystate.Pending), OnFailure: string(d.policy), CreatedAt: now, UpdatedAt: now,
		}
		if _, err := store.CreateOperation(ctx, op); err != nil {
			return Report{}, err
		}
	}

	p := applystate.NewProjector(store, store)
	tl := &timeline{start: time.Now(), tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	fmt.Fprintf(tl.tw, "time\tdeployment\toperation\tapply\tterminal\n")

	var wg sync.WaitGroup
	errs := make(chan error, len(deps)+1)
	first := make(chan struct{}, 3)
	for _, d := range deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d.wait != nil {
				<-d.wait
			}
			for _, step := range d.steps {
				step.OperationID = d.name
				if step.State == applystate.Failed {
					step.ErrorMessage = "health check failed"
				}
				res, err := p.Drive(ctx, applyID, []applystate.Task{step})
				if err != nil {
					errs <- fmt.Errorf("%s: %w", d.name, err)
					return
				}
				tl.row(d.name, step.State, res)
				time.Sleep(2 * time.Millisecond)
			}
			if d.wait == nil {
				first <- struct{}{}
			}
		}()
	}
	// The operator: once the first three deployments are done the apply is
	// paused on eu-central's failure; release the pause, let ap-south go.
	for range 3 {
		select {
		case <-first:
		case err := <-errs:
			close(released)
			wg.Wait()
			return Report{}, err
		}
	}
	res, err := p.ReleasePause(ctx, applyID)
	if err != nil {
		close(released)
		wg.Wait()
		return Report{}, err
	}
	tl.row("operator", "release", res)
	close(released)
	wg.Wait()
	close(errs)
	for err := range errs {
		return Report{}, err
	}

	final, err := store.GetApply(ctx, applyID)
	if err != nil {
		return Report{}, err
	}
	tl.rep.Final = applystate.State(final.State)
	tl.rep.ErrorMessage = final.ErrorMessage
	if err := tl.tw.Flush(); err != nil {
		return Report{}, err
	}
	fmt.Fprintf(w, "\napply %s: %s (%s); terminalized once, by %s\n",
		applyID, final.State, final.ErrorMessage, tl.rep.Terminalizer)
	return tl.rep, nil
}

func tasks(states ...applystate.State) []applystate.Task {
	out := make([]applystate.Task, len(states))
	for i, s := range states {
		out[i] = applystate.Task{State: s}
	}
	return out
}
