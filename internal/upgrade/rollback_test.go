package upgrade

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
)

// TestRollbackRepair is the README's rollback rule: after a rollback to
// v0.1.0 and a roll-forward, Reproject every open apply. This release
// drives a rollout until its last deployment runs (its row acknowledged);
// rolled back, v0.1.0 writes that deployment's completion and crashes
// before its apply write (a v0.1.0 UPDATE leaves the acknowledgement it
// does not know of in place on MySQL); rolled forward, the deployment's
// poll may find the row acknowledged and leave the apply running with
// every operation completed. The repair — a Reproject of every open apply
// — settles it, with exactly one Terminalized.
func TestRollbackRepair(t *testing.T) {
	onEachBackend(t, 30*time.Second, func(ctx context.Context, t *testing.T, tb tables) {
		st := tb.ready(t)
		var count terminalized
		p := applystate.NewProjector(st, st, applystate.WithLogger(quiet()))
		const applies = 3
		ids := make([]string, applies)
		for i := range ids {
			ids[i] = fmt.Sprintf("%srollback-%d", tb.prefix, i)
			plan := applystate.Plan{Apply: storage.Apply{ID: ids[i]}, Operations: []storage.Operation{
				{ID: "d0", Seq: 0, Deployment: "dep-0"}, {ID: "d1", Seq: 1, Deployment: "dep-1"},
			}}
			if _, _, err := p.CreatePlan(ctx, plan); err != nil {
				t.Fatal(err)
			}
			for _, step := range []struct {
				op string
				s  applystate.State
			}{{"d0", applystate.Pending}, {"d0", applystate.Running}, {"d0", applystate.Completed}, {"d1", applystate.Pending}, {"d1", applystate.Running}} {
				res, err := p.Drive(ctx, ids[i], []applystate.Task{{OperationID: step.op, State: step.s}})
				if err != nil {
					t.Fatalf("drive %s %s: %v", step.op, step.s, err)
				}
				count.add(ids[i], res)
				if step.s == applystate.Pending && res.Next != applystate.Proceed {
					t.Fatalf("drive %s pending: %s, want Proceed", step.op, res.Next)
				}
			}
		}
		// Rolled back: v0.1.0 sees d1 complete on one apply, and crashes
		// after the row write.
		runOld(t, tb.srv, tb.prefix, "rowonly", "-apply", ids[0], "-op", "d1", "-state", "completed")
		// Rolled forward: d1's drive loop polls what it sees.
		res, err := p.Drive(ctx, ids[0], []applystate.Task{{OperationID: "d1", State: applystate.Completed}})
		if err != nil {
			t.Fatal(err)
		}
		count.add(ids[0], res)
		before := res.Apply.State
		// The repair: a Reproject of every open apply.
		for _, id := range ids {
			a, err := st.GetApply(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if applystate.Normalize(a.State).Terminal() {
				continue
			}
			res, err := p.Reproject(ctx, id)
			if err != nil {
				t.Fatalf("repair: Reproject %s: %v", id, err)
			}
			count.add(id, res)
		}
		a, err := st.GetApply(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if a.State != string(applystate.Completed) || count.of(ids[0]) != 1 {
			t.Errorf("after the repair the rolled-back apply is %s with %d Terminalized, want completed with 1", a.State, count.of(ids[0]))
		}
		for _, id := range ids {
			if err := explore.CheckApplyProjected(ctx, st, id); err != nil {
				t.Errorf("after the repair: %v", err)
			}
		}
		for _, id := range ids[1:] {
			if a, err := st.GetApply(ctx, id); err != nil || a.State != string(applystate.Running) || count.of(id) != 0 {
				t.Errorf("the repair changed apply %s that v0.1.0 did not touch: %s (%v), %d Terminalized", id, a.State, err, count.of(id))
			}
		}
		if !t.Failed() {
			t.Logf("rollback to v0.1.0 and forward on %s: the deployment's poll left the apply %s; Reproject of every open apply settled it completed with one Terminalized", tb.srv.backend, before)
		}
	})
}
