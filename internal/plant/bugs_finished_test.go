package plant_test

// finishedBugs are the planted bugs in applystate's finished-applies index
// and PruneFinished (issue 26): the first two break "an apply is in the
// open index or the finished index until it is pruned" at a step between
// two writes; the last two leave, after a PruneFinished returned without
// More, a due stopped apply unpruned or the row of a pruned one.
var finishedBugs = []bug{
	{name: "unfiled-open-row-removal", why: "the terminalizer removes the apply's open row before it files the apply as finished: in between (or after a crash there) the terminal apply is in neither index, and PruneFinished never finds it",
		file: "applystate/discovery.go",
		from: "if err := p.file(ctx, a); err != nil {\n\t\tp.cfg.logger.WarnContext(ctx, \"applystate: terminal apply left in the open-applies index\", \"apply\", a.ID, \"err\", err)\n\t\treturn\n\t}\n\tr := d.indexRow(a.ID, createdVersion, time.Time{})\n\tif err := d.members.RemoveMember(ctx, r.Queue, r.State, r.BatchID, createdVersion); err != nil {",
		to:   "r := d.indexRow(a.ID, createdVersion, time.Time{})\n\t_ = d.members.RemoveMember(ctx, r.Queue, r.State, r.BatchID, createdVersion)\n\tif err := p.file(ctx, a); err != nil {"},
	{name: "finished-row-before-prune", why: "PruneFinished removes an apply's finished row before it prunes the apply: in between (or after a crash there) the unpruned apply is in neither index, and no later call finds it",
		file: "applystate/finished.go",
		from: "out, ops, err := p.pruneApply(ctx, r.BatchID, before)\n\tif err != nil || out == pruneKept {\n\t\treturn out, ops, err\n\t}\n\tif err := p.cfg.discovery.members.RemoveMember(ctx, r.Queue, r.State, r.BatchID, r.Version); err != nil {",
		to:   "if err := p.cfg.discovery.members.RemoveMember(ctx, r.Queue, r.State, r.BatchID, r.Version); err != nil {\n\t\treturn pruneKept, 0, err\n\t}\n\tout, ops, err := p.pruneApply(ctx, r.BatchID, before)\n\tif err != nil || out == pruneKept {\n\t\treturn out, ops, err\n\t}\n\tif err := error(nil); err != nil {"},
	{name: "stopped-never-pruned", why: "a fix of issue 26 reverted: a stopped apply, which never sets CompletedAt, is never due, so PruneFinished keeps it for good (it completes at its terminal write's UpdatedAt)",
		file: "applystate/prune.go",
		from: "return State(a.State).Terminal() && completion(a).Before(before)",
		to:   "return State(a.State).Terminal() && !a.CompletedAt.IsZero() && completion(a).Before(before)"},
	{name: "pruned-judged-by-cutoff", why: "a fix of this session reverted: an apply pruned already is kept when it did not complete before the cutoff, and a stopped one's payload drop moved its completion past it, so the row a crashed call or a Prune left stays for good",
		file: "applystate/prune.go",
		from: "case !State(a.State).Terminal():\n\t\treturn pruneKept, 0, nil\n\t}",
		to:   "case !prunable(a, before):\n\t\treturn pruneKept, 0, nil\n\t}"},
}

// init registers finishedBugs with the others (kept in a file of their
// own so that the lists of the other files do not change).
func init() { bugs = append(bugs, finishedBugs...) }
