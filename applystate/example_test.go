package applystate_test

import (
	"context"
	"fmt"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// Two deployments roll out. The first finishes while the second is still
// running: its drive loop reports completed, but the apply — the projection
// over both operations — stays running, and only the last call
// terminalizes it.
func Example() {
	ctx := context.Background()
	store := memory.New()
	store.CreateApply(ctx, storage.Apply{ID: "rollout-1", State: "pending"})
	for i, d := range []string{"us-east", "eu-west"} {
		store.CreateOperation(ctx, storage.Operation{ApplyID: "rollout-1", ID: d, Seq: int64(i), Deployment: d, State: "pending"})
	}
	p, err := applystate.NewProjector(store, store)
	if err != nil {
		fmt.Println(err)
		return
	}
	drive := func(op string, s applystate.State) {
		r, err := p.Drive(ctx, "rollout-1", []applystate.Task{{OperationID: op, State: s}})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-8s %-9s → apply %-9s terminalized=%v\n", op, s, r.Apply.State, r.Terminalized)
	}
	drive("us-east", applystate.Running)
	drive("eu-west", applystate.Running)
	drive("us-east", applystate.Completed)
	drive("eu-west", applystate.Completed)
	// Output:
	// us-east  running   → apply running   terminalized=false
	// eu-west  running   → apply running   terminalized=false
	// us-east  completed → apply running   terminalized=false
	// eu-west  completed → apply completed terminalized=true
}

// Derive folds a deployment's task states into one.
func ExampleDerive() {
	fmt.Println(applystate.Derive(applystate.Completed, applystate.WaitingForCutover))
	fmt.Println(applystate.Derive(applystate.Pending, applystate.CatchingUp))
	fmt.Println(applystate.Derive("COMPLETE", "completed"))
	// Output:
	// waiting_for_cutover
	// running
	// completed
}

// Rollout projects the apply from its operations and their failure policies.
func ExampleRollout() {
	failedContinue := applystate.Child{State: applystate.Failed, OnFailure: applystate.Continue, Started: true}
	failedPause := applystate.Child{State: applystate.Failed, OnFailure: applystate.Pause, Started: true}
	pending := applystate.Child{State: applystate.Pending}
	fmt.Println(applystate.Rollout([]applystate.Child{failedContinue, pending}, applystate.Flags{}))
	fmt.Println(applystate.Rollout([]applystate.Child{failedPause, pending}, applystate.Flags{}))
	fmt.Println(applystate.Rollout([]applystate.Child{failedPause, pending}, applystate.Flags{PauseReleased: true}))
	// Output:
	// running_degraded
	// paused
	// running_degraded
}
