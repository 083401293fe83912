package upgrade

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storage"
)

// step is one report of a drive loop of this release.
type step struct {
	op string
	s  applystate.State
}

// rollout creates a rollout of two deployments (halt) with this release
// and drives it through steps; every pending report must be told Proceed.
func rollout(ctx context.Context, t *testing.T, p *applystate.Projector, id string, count *terminalized, steps ...step) {
	t.Helper()
	plan := applystate.Plan{Apply: storage.Apply{ID: id}, Operations: []storage.Operation{
		{ID: "d0", Seq: 0, Deployment: "dep-0"}, {ID: "d1", Seq: 1, Deployment: "dep-1"},
	}}
	if _, _, err := p.CreatePlan(ctx, plan); err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		res, err := p.Drive(ctx, id, []applystate.Task{{OperationID: s.op, State: s.s}})
		if err != nil {
			t.Fatalf("drive %s %s: %v", s.op, s.s, err)
		}
		count.add(id, res)
		if s.s == applystate.Pending && res.Next != applystate.Proceed {
			t.Fatalf("drive %s pending: %s, want Proceed", s.op, res.Next)
		}
	}
}

// TestRollbackRepair is the README's rollback rule.
//
// This release drives rollouts until their last deployment runs (its row
// acknowledged); rolled back, v0.1.0 writes one deployment's completion
// and crashes before its apply write (a v0.1.0 UPDATE keeps the
// acknowledgement it does not know of on MySQL and PostgreSQL, but bumps
// the row's version past the one the acknowledgement was written for);
// rolled forward, the deployment's own poll finds the row unacknowledged
// and settles the apply completed with exactly one Terminalized — no
// Reproject needed. A Reproject of every open apply (the sweeper's, or the
// README's repair) then changes nothing.
//
// Why no rollback mid-rollout: v0.1.0 does not see a granted start (a
// pending row this release told Proceed), so a v0.1.0 drive loop
// reporting a failure under halt settles the apply failed while that
// deployment runs — which no repair undoes.
func TestRollbackRepair(t *testing.T) {
	onEachBackend(t, 30*time.Second, func(ctx context.Context, t *testing.T, tb tables) {
		st := tb.ready(t)
		var count terminalized
		p, err := applystate.NewProjector(st, st, applystate.WithLogger(quiet()))
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, 3)
		for i := range ids {
			ids[i] = fmt.Sprintf("%srollback-%d", tb.prefix, i)
			rollout(ctx, t, p, ids[i], &count, step{"d0", applystate.Pending}, step{"d0", applystate.Running},
				step{"d0", applystate.Completed}, step{"d1", applystate.Pending}, step{"d1", applystate.Running})
		}
		granted := tb.prefix + "granted"
		rollout(ctx, t, p, granted, &count, step{"d0", applystate.Pending}, step{"d0", applystate.Running}, step{"d1", applystate.Pending})

		// Rolled back: v0.1.0 sees d1 complete on one apply, and crashes
		// after the row write; on another, d0 fails.
		runOld(t, tb.srv, tb.prefix, "rowonly", "-apply", ids[0], "-op", "d1", "-state", "completed")
		var failed applystate.Result
		if err := json.Unmarshal(runOld(t, tb.srv, tb.prefix, "drive", "-apply", granted, "-op", "d0", "-state", "failed"), &failed); err != nil {
			t.Fatal(err)
		}
		d1, err := st.GetOperation(ctx, granted, "d1")
		if err != nil {
			t.Fatal(err)
		}
		if failed.Apply.State != string(applystate.Failed) || !failed.Terminalized || d1.State != string(applystate.Pending) || d1.StartedAt.IsZero() {
			t.Errorf("v0.1.0 over a granted start: apply %s (Terminalized %v), d1 %s started=%v; the README says it settles the apply failed while d1 runs: "+
				"if it no longer can, the rule and this test change together", failed.Apply.State, failed.Terminalized, d1.State, !d1.StartedAt.IsZero())
		}

		row, err := st.GetOperation(ctx, ids[0], "d1")
		if err != nil {
			t.Fatal(err)
		}
		if applystate.Acknowledged(row) {
			t.Errorf("v0.1.0's write left d1 acknowledged (projected=%v for version %d, row version %d)", row.Projected, row.ProjectedVersion, row.Version)
		}

		// Rolled forward: d1's drive loop polls what it sees, and the
		// poll alone settles the apply.
		res, err := p.Drive(ctx, ids[0], []applystate.Task{{OperationID: "d1", State: applystate.Completed}})
		if err != nil {
			t.Fatal(err)
		}
		count.add(ids[0], res)
		if res.Apply.State != string(applystate.Completed) || count.of(ids[0]) != 1 {
			t.Errorf("rolled forward, d1's poll left the apply %s with %d Terminalized, want completed with 1", res.Apply.State, count.of(ids[0]))
		}
		// A Reproject of every open apply changes nothing.
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
				t.Fatalf("Reproject %s: %v", id, err)
			}
			count.add(id, res)
		}
		a, err := st.GetApply(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if a.State != string(applystate.Completed) || count.of(ids[0]) != 1 {
			t.Errorf("after the Reprojects the rolled-back apply is %s with %d Terminalized, want completed with 1", a.State, count.of(ids[0]))
		}
		for _, id := range ids {
			if err := explore.CheckApplyProjected(ctx, st, id); err != nil {
				t.Errorf("after the Reprojects: %v", err)
			}
		}
		for _, id := range ids[1:] {
			if a, err := st.GetApply(ctx, id); err != nil || a.State != string(applystate.Running) || count.of(id) != 0 {
				t.Errorf("Reproject changed apply %s that v0.1.0 did not touch: %s (%v), %d Terminalized", id, a.State, err, count.of(id))
			}
		}
		if !t.Failed() {
			t.Logf("rollback to v0.1.0 and forward on %s: v0.1.0's write un-acknowledged d1 (row version %d, acknowledged for %d) and the deployment's own poll settled the apply completed with one Terminalized "+
				"(and v0.1.0 settled an apply failed over a granted start, hence no rollback mid-rollout)", tb.srv.backend, row.Version, row.ProjectedVersion)
		}
	})
}
