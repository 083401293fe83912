package plant_test

// bugs are the planted bugs: the exploration of generated scenarios must
// find every one of them alone. batchBugs live in bugs_batch_test.go,
// applyBugs in bugs_apply_test.go.
var bugs = append(append([]bug(nil), batchBugs...), applyBugs...)

// hardBugs are planted bugs the generated exploration does not find yet
// within make test's budget. no-created-row needs a CreatePlan held
// between its index row and its apply write while the clock passes the
// grace and a whole ListOpen runs (applystate's
// TestCreatePlanPausedPastTheGrace).
// TestPlantedBugsFound runs them only with STATEFOLD_PLANTED_HARD=1; the
// deterministic tests of applystate catch each.
var hardBugs = []bug{
	{name: "no-created-row", why: "CreatePlan files the apply only before creating it: a ListOpen past the grace removes that row while the apply does not exist yet, and the apply CreatePlan then creates is never listed",
		file: "applystate/plan.go",
		from: "if err := p.list(ctx, id, createdVersion); err != nil {\n\t\treturn storage.Apply{}, nil, err\n\t}\n\tp.cfg.logger",
		to:   "if err := error(nil); err != nil {\n\t\treturn storage.Apply{}, nil, err\n\t}\n\tp.cfg.logger"},
}
