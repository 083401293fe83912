package applystate

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

func TestPlanned(t *testing.T) {
	ok := Plan{Apply: storage.Apply{ID: "a", Payload: []byte("p")}, Operations: []storage.Operation{
		{ID: "x", OnFailure: "PAUSE", Seq: 1, Deployment: "eu", State: "Pending"},
		{ID: "y", ApplyID: "a", Group: "g", Finalizer: true, Payload: []byte("q"), Owner: "ignored", Version: 9},
	}}
	got, err := planned(ok, tA)
	require.NoError(t, err)
	require.Equal(t, storage.Apply{ID: "a", State: string(Pending), Payload: []byte("p"), CreatedAt: tA, UpdatedAt: tA}, got.Apply)
	require.Equal(t, []storage.Operation{
		{ApplyID: "a", ID: "x", Seq: 1, Deployment: "eu", State: string(Pending), OnFailure: string(Pause), CreatedAt: tA, UpdatedAt: tA},
		{ApplyID: "a", ID: "y", Group: "g", Finalizer: true, State: string(Pending), OnFailure: string(Halt), Payload: []byte("q"), CreatedAt: tA, UpdatedAt: tA},
	}, got.Operations, "as written: pending, canonical policies, the fields a plan sets")

	for _, c := range []struct {
		name  string
		edit  func(*Plan)
		field string
	}{
		{"no apply id", func(p *Plan) { p.Apply.ID = "" }, "plan.Apply.ID"},
		{"a started apply", func(p *Plan) { p.Apply.State = "running" }, "plan.Apply.State"},
		{"no operations", func(p *Plan) { p.Operations = nil }, "plan.Operations"},
		{"no operation id", func(p *Plan) { p.Operations[1].ID = "" }, "plan.Operations[1].ID"},
		{"a duplicate", func(p *Plan) { p.Operations[1].ID = "x" }, "plan.Operations[1].ID"},
		{"another apply", func(p *Plan) { p.Operations[0].ApplyID = "b" }, "plan.Operations[0].ApplyID"},
		{"a started operation", func(p *Plan) { p.Operations[0].State = "failed" }, "plan.Operations[0].State"},
		{"an unknown state", func(p *Plan) { p.Operations[0].State = "done" }, "plan.Operations[0].State"},
		{"an unknown policy", func(p *Plan) { p.Operations[0].OnFailure = "retry" }, "plan.Operations[0].OnFailure"},
		{"a finalizer without a group", func(p *Plan) { p.Operations[1].Group = "" }, "plan.Operations[1].Group"},
		{"a payload too large", func(p *Plan) { p.Operations[1].Payload = make([]byte, storage.MaxPayloadBytes+1) }, "plan.Operations[1]."},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Plan{Apply: ok.Apply, Operations: append([]storage.Operation(nil), ok.Operations...)}
			c.edit(&p)
			_, err := planned(p, tA)
			require.ErrorIs(t, err, storage.ErrInvalid)
			require.ErrorContains(t, err, c.field)
		})
	}
}

func TestStoredAgainstThePlan(t *testing.T) {
	w, err := planned(Plan{Apply: storage.Apply{ID: "a"}, Operations: []storage.Operation{
		{ID: "x", OnFailure: "pause"}, {ID: "y", Seq: 1},
	}}, tA)
	require.NoError(t, err)
	x, y := w.Operations[0], w.Operations[1]
	x.State, x.Version, x.OnFailure = string(Failed), 4, string(Continue) // a pause an earlier version released
	got, err := storedAsPlanned(w, []storage.Operation{y, x})
	require.NoError(t, err)
	require.Equal(t, []storage.Operation{x, y}, got, "in the plan's order")
	require.NoError(t, storedWithin(w, []storage.Operation{y}), "a part of the plan")

	other := y
	other.Deployment = "us"
	for _, c := range []struct {
		name   string
		stored []storage.Operation
		within bool // storedWithin accepts it
	}{
		{"one missing", []storage.Operation{x}, true},
		{"one too many", []storage.Operation{x, y, {ID: "z"}}, false},
		{"one not in the plan", []storage.Operation{x, {ID: "z"}}, false},
		{"one planned otherwise", []storage.Operation{x, other}, false},
	} {
		_, err := storedAsPlanned(w, c.stored)
		require.ErrorIs(t, err, storage.ErrAlreadyExists, c.name)
		if c.within {
			require.NoError(t, storedWithin(w, c.stored), c.name)
		} else {
			require.ErrorIs(t, storedWithin(w, c.stored), storage.ErrAlreadyExists, c.name)
		}
	}
	err = samePlanned(other, y)
	require.ErrorIs(t, err, storage.ErrAlreadyExists)
	require.ErrorContains(t, err, "Deployment")
}

func TestPlanLock(t *testing.T) {
	w, err := planned(Plan{Apply: storage.Apply{ID: "a"}, Operations: []storage.Operation{{ID: "x"}}}, tA)
	require.NoError(t, err)
	lock := planLock(w)
	require.Equal(t, PlanLockID("a"), lock.ID)
	require.Equal(t, planDigest(w), lock.Payload)
	require.NoError(t, storage.ValidateApply(lock))
	require.NoError(t, lockedFor(lock, lock))
	w2 := w
	w2.Operations = []storage.Operation{{ApplyID: "a", ID: "y", State: string(Pending), OnFailure: string(Halt)}}
	require.NotEqual(t, lock.Payload, planLock(w2).Payload, "another plan, another digest")
	require.ErrorIs(t, lockedFor(lock, planLock(w2)), storage.ErrAlreadyExists)
	reordered := w
	reordered.Operations = append([]storage.Operation{w2.Operations[0]}, w.Operations...)
	swapped := reordered
	swapped.Operations = []storage.Operation{reordered.Operations[1], reordered.Operations[0]}
	require.Equal(t, planDigest(reordered), planDigest(swapped), "the digest ignores the operations' order")
}
