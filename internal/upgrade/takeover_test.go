package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// terminalized counts, per apply, the calls that returned Terminalized.
type terminalized struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *terminalized) add(applyID string, res applystate.Result) {
	if !res.Terminalized {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = make(map[string]int)
	}
	c.n[applyID]++
}

func (c *terminalized) of(applyID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[applyID]
}

// retryable reports an error a drive loop polls again after.
func retryable(err error) bool {
	return errors.Is(err, storage.ErrConflict) || errors.Is(err, applystate.ErrAmbiguous) ||
		errors.Is(err, storage.ErrAmbiguous) || errors.Is(err, storage.ErrUnavailable)
}

// driveOperation is one deployment's drive loop of today's release, over a
// deployment that starts when told Proceed, reports running once, then
// completes; told DoNotStart after a stop request it reports stopped. It
// returns once it reported a settled or stopped state, or once the apply
// is terminal.
func driveOperation(ctx context.Context, p *applystate.Projector, st storage.Store, applyID, opID string, count *terminalized) error {
	row, err := st.GetOperation(ctx, applyID, opID)
	if err != nil {
		return err
	}
	state := applystate.Normalize(row.State)
	if state.Terminal() {
		return nil
	}
	started := state != applystate.Pending
	reportedRunning := started
	stopping := false
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("drive %s/%s: %w", applyID, opID, err)
		}
		report := applystate.Pending
		switch {
		case stopping:
			report = applystate.Stopped
		case started && !reportedRunning:
			report = applystate.Running
		case started:
			report = applystate.Completed
		}
		res, err := p.Drive(ctx, applyID, []applystate.Task{{OperationID: opID, State: report}})
		if err != nil {
			if retryable(err) {
				continue
			}
			return fmt.Errorf("drive %s/%s %s: %w", applyID, opID, report, err)
		}
		count.add(applyID, res)
		if report == applystate.Running {
			reportedRunning = true
		}
		if report.Terminal() || applystate.Normalize(res.Apply.State).Terminal() {
			return nil
		}
		switch res.Next {
		case applystate.Proceed, applystate.Resume:
			started = true
		case applystate.DoNotStart:
			// Not now (a halt, a claim given back): poll again until
			// the apply settles; after a stop request, report stopped.
			stopping = res.Apply.StopRequested
			time.Sleep(5 * time.Millisecond)
		case applystate.Wait:
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// settle drives the rollout to a terminal state with today's release: a
// drive loop per unsettled operation (each with its own Projector, as in
// separate processes), a supervisor that releases pauses and, once the
// loops are done, a Reproject (the repair every open apply gets after an
// upgrade).
func settle(ctx context.Context, st storage.Store, applyID string, ops []string, count *terminalized) error {
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	done := make(chan struct{})
	for i, op := range ops {
		wg.Go(func() {
			p, err := applystate.NewProjector(st, st, applystate.WithLogger(quiet()))
			if err == nil {
				err = driveOperation(ctx, p, st, applyID, op, count)
			}
			errs[i] = err
		})
	}
	p, err := applystate.NewProjector(st, st, applystate.WithLogger(quiet()))
	if err != nil {
		return err
	}
	var supErr error
	sup := make(chan struct{})
	go func() {
		defer close(sup)
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			a, err := st.GetApply(ctx, applyID)
			if err != nil {
				supErr = err
				return
			}
			if applystate.Normalize(a.State) == applystate.Paused {
				res, err := p.ReleasePause(ctx, applyID)
				if err != nil && !retryable(err) {
					supErr = err
					return
				}
				count.add(applyID, res)
			}
		}
	}()
	wg.Wait()
	close(done)
	<-sup
	if err := errors.Join(append(errs, supErr)...); err != nil {
		return err
	}
	for {
		res, err := p.Reproject(ctx, applyID)
		if err != nil && retryable(err) && ctx.Err() == nil {
			continue
		}
		count.add(applyID, res)
		return err
	}
}
