package plant_test

// bugs are the planted bugs: the exploration of generated scenarios must
// find every one of them alone. batchBugs live in bugs_batch_test.go,
// applyBugs in bugs_apply_test.go.
var bugs = append(append([]bug(nil), batchBugs...), applyBugs...)

// hardBugs are planted bugs the generated exploration does not find yet
// within make test's budget: each needs two or more preemptions at precise
// points between two replicas of one drive loop, or a List between the
// lease reads of two Reconciles. TestPlantedBugsFound runs them only with
// STATEFOLD_PLANTED_HARD=1; the deterministic tests of applystate and
// batchstate catch each.
var hardBugs = []bug{
	{name: "stale-apply-after-lost-row-cas", why: "the fix of the applystate issue's hole 1 reverted: after a lost row compare-and-swap the row is read again but not the apply, so the fence is stale",
		file: "applystate/drive.go",
		from: "// read before this round is older than that row.\n\t\treturn false, true, d.reread(ctx)",
		to:   "// read before this round is older than that row.\n\t\treturn false, true, func() (err error) { d.row, err = d.p.ops.GetOperation(ctx, d.applyID, d.opID); return err }()"},
	{name: "fence-not-forced", why: "the apply write at the first version read after a row write is not forced, so an older listing's write can land over the row it acknowledges",
		file: "applystate/drive.go",
		from: "return decision{state: v.state, msg: v.msg, force: d.ack.forces(b)}, nil",
		to:   "return decision{state: v.state, msg: v.msg, force: false && d.ack.forces(b)}, nil"},
	{name: "lease-never-held", why: "a held lease reads as free: List does not wait for a Reconcile and two Reconciles run at once (III)",
		file: "batchstate/lease.go",
		from: "held := b.State == leaseHeld && now.Sub(b.UpdatedAt) <= lease",
		to:   "held := b.State == leaseHeld && false"},
}
