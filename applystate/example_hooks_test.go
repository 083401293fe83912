package applystate_test

import (
	"context"
	"fmt"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// Hooks hear of every call — here its outcome: the apply's state, the
// directive and whether the call terminalized the apply — and of what
// happens within it. The otel module turns them into metrics and spans.
func ExampleWithHooks() {
	ctx := context.Background()
	store := memory.New()
	hooks := observe.Hooks{
		OnEnd: func(_ context.Context, c observe.Call, o observe.Outcome) {
			fmt.Printf("%s %s: %s, next %s, terminalized=%v, error=%q\n",
				c.Method, c.OperationID, o.State, o.Directive, o.Terminalized, o.ErrorType)
		},
		OnEvent: func(_ context.Context, e observe.Event) { fmt.Println("event:", e.Kind, e.Reason) },
	}
	p, err := applystate.NewProjector(store, store, applystate.WithHooks(hooks))
	if err != nil {
		fmt.Println(err)
		return
	}
	plan := applystate.Plan{Apply: storage.Apply{ID: "rollout-1"},
		Operations: []storage.Operation{{ID: "us-east", Seq: 0}, {ID: "eu-west", Seq: 1}}}
	if _, _, err := p.CreatePlan(ctx, plan); err != nil {
		fmt.Println(err)
		return
	}
	for _, op := range []string{"us-east", "eu-west"} {
		p.Drive(ctx, "rollout-1", []applystate.Task{{OperationID: op, State: applystate.Completed}})
	}
	p.Drive(ctx, "rollout-1", []applystate.Task{{OperationID: "nowhere", State: applystate.Running}})
	// Output:
	// CreatePlan : pending, next , terminalized=false, error=""
	// Drive us-east: running, next do_not_start, terminalized=false, error=""
	// Drive eu-west: completed, next do_not_start, terminalized=true, error=""
	// Drive nowhere: , next , terminalized=false, error="invalid"
}
