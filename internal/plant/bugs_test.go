package plant_test

// bugs are the planted bugs: the exploration of generated scenarios must
// find every one of them alone. batchBugs live in bugs_batch_test.go,
// applyBugs in bugs_apply_test.go.
var bugs = append(append([]bug(nil), batchBugs...), applyBugs...)

// hardBugs are planted bugs the generated exploration does not find yet
// within make test's budget. no-created-row needs a CreatePlan held
// between its index row and its apply write while the clock passes the
// grace and a whole ListOpen runs (applystate's
// TestCreatePlanPausedPastTheGrace). reproject-not-forced (the applystate
// issue's hole 2) needs a Reproject's listing to be overtaken by a Drive
// and an older projection write, each held at a precise write
// (TestReprojectForcesAfterItsListing); flag-write-plain-clock (hole 8)
// needs a lost response on Stop's or ReleasePause's apply write, which the
// memory model check does not inject (TestLostResponseOnReleasePauseFlagIsOwned).
// TestPlantedBugsFound runs them only with STATEFOLD_PLANTED_HARD=1; the
// deterministic tests of applystate catch each.
var hardBugs = []bug{
	{name: "no-created-row", why: "CreatePlan files the apply only before creating it: a ListOpen past the grace removes that row while the apply does not exist yet, and the apply CreatePlan then creates is never listed",
		file: "applystate/plan.go",
		from: "if err := p.list(ctx, id, createdVersion); err != nil {\n\t\treturn storage.Apply{}, nil, err\n\t}\n\tp.cfg.logger",
		to:   "if err := error(nil); err != nil {\n\t\treturn storage.Apply{}, nil, err\n\t}\n\tp.cfg.logger"},
	{name: "reproject-not-forced", why: "the fix of the applystate issue's hole 2 reverted: Reproject does not force its write over unacknowledged rows, so an older listing's write can land over the rows it acknowledges",
		file: "applystate/reproject.go",
		from: "force: unacked}}",
		to:   "force: false && unacked}}"},
	{name: "flag-write-plain-clock", why: "the fix of the applystate issue's hole 8 reverted: Stop and ReleasePause stamp their apply writes with the plain clock, so a lost response is not recognized as the caller's own write",
		file: "applystate/apply_write.go",
		from: "w.UpdatedAt = p.stamp(p.now())\n\t\twritten, again, err := p.casApply(ctx, w, a.Version)",
		to:   "w.UpdatedAt = p.now()\n\t\twritten, again, err := p.casApply(ctx, w, a.Version)"},
}
