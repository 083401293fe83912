package applystate_test

import (
	"context"
	"fmt"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// A Projector with the open-applies index lists the applies its CreatePlan
// made until they are terminal; a sweep reprojects the idle ones and
// reports the operations whose owner's lease lapsed.
func ExampleProjector_Sweep() {
	ctx := context.Background()
	store := memory.New()
	now := time.Date(2026, 5, 6, 7, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p, err := applystate.NewProjector(store, store, applystate.WithClock(clock), applystate.WithDiscovery(store, "deploys", 0))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range []string{"rollout-1", "rollout-2"} {
		ops := []storage.Operation{{ID: "us-east", Deployment: "us-east"}, {ID: "eu-west", Seq: 1, Deployment: "eu-west"}}
		if _, _, err := p.CreatePlan(ctx, applystate.Plan{Apply: storage.Apply{ID: id}, Operations: ops}); err != nil {
			fmt.Println(err)
			return
		}
	}
	p.Acquire(ctx, "rollout-1", "us-east", "deployer-7", time.Minute)
	p.Stop(ctx, "rollout-2")

	open, _ := p.ListOpen(ctx)
	for _, a := range open {
		fmt.Println("open:", a.ID, a.State)
	}
	now = now.Add(10 * time.Minute) // deployer-7 died; nothing was written since
	rep, err := p.Sweep(ctx)
	fmt.Println("reprojected:", rep.Reprojected, "err:", err)
	for _, o := range rep.Orphans {
		fmt.Println("orphan:", o.ApplyID, o.OperationID, "last owner", o.Owner)
	}
	// Output:
	// open: rollout-1 pending
	// reprojected: 1 err: <nil>
	// orphan: rollout-1 us-east last owner deployer-7
}
