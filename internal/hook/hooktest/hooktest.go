// Package hooktest records what an orchestrator's hooks hear, one line
// per call and per event, for the tests.
package hooktest

import (
	"context"
	"fmt"

	"github.com/statefold/statefold/observe"
)

// Heard is the lines the hooks of [Heard.Hooks] heard, in order:
//
//	<Method> <apply>/<operation>|<queue> <state> "<error type>" <count>
//	  <kind> <reason> <count> attempt <attempt> in <Method>
type Heard struct{ Lines []string }

// Hooks returns hooks that record into h.
func (h *Heard) Hooks() observe.Hooks {
	return observe.Hooks{
		OnEnd: func(_ context.Context, c observe.Call, o observe.Outcome) {
			target := c.Queue
			if c.Orchestrator == "applystate" {
				target = c.ApplyID + "/" + c.OperationID
			}
			h.Lines = append(h.Lines, fmt.Sprintf("%s %s %s %q %d", c.Method, target, o.State, o.ErrorType, o.Count))
		},
		OnEvent: func(_ context.Context, e observe.Event) {
			h.Lines = append(h.Lines, fmt.Sprintf("  %s %s %d attempt %d in %s", e.Kind, e.Reason, e.Count, e.Attempt, e.Call.Method))
		},
	}
}
