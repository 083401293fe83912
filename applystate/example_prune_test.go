package applystate_test

import (
	"context"
	"fmt"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// With the open-applies index, a terminal apply is filed by the day it
// finished; PruneFinished prunes those older than the retention, a page at
// a time, and leaves open applies alone. Next says where to start the next
// call.
func ExampleProjector_PruneFinished() {
	ctx := context.Background()
	store := memory.New()
	now := time.Date(2026, 5, 6, 7, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p, err := applystate.NewProjector(store, store, applystate.WithClock(clock), applystate.WithDiscovery(store, "deploys", 0))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range []string{"rollout-1", "rollout-2", "rollout-3"} {
		ops := []storage.Operation{{ID: "us-east", Deployment: "us-east"}}
		if _, _, err := p.CreatePlan(ctx, applystate.Plan{Apply: storage.Apply{ID: id}, Operations: ops}); err != nil {
			fmt.Println(err)
			return
		}
	}
	p.Drive(ctx, "rollout-1", []applystate.Task{{OperationID: "us-east", State: applystate.Completed}})
	p.Stop(ctx, "rollout-2")

	now = now.Add(40 * 24 * time.Hour)
	retention := 30 * 24 * time.Hour
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // the oldest day still kept
	for more := true; more; {
		rep, err := p.PruneFinished(ctx, since, now.Add(-retention), 1)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("pruned:", rep.Pruned, "more:", rep.More, "next:", rep.Next.Format(time.DateOnly))
		since, more = rep.Next, rep.More
	}
	open, _ := p.ListOpen(ctx)
	for _, a := range open {
		fmt.Println("open:", a.ID, a.State)
	}
	// Output:
	// pruned: 1 more: true next: 2026-05-06
	// pruned: 1 more: false next: 2026-05-16
	// open: rollout-3 pending
}
