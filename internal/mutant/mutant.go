// Package mutant plants known bugs back into the orchestrators, one per
// build tag, so that a test can prove the interleaving explorer finds each
// of them. Without a statefold_mutant_* tag, [Name] is "" and every planted
// branch is constant-false: the compiler drops it.
//
// Build tags and the bug each plants:
//
//   - statefold_mutant_fold: applystate's Drive folds the row it wrote over
//     the listed one unconditionally, even when the listing holds a later
//     write of the same operation;
//   - statefold_mutant_rowsmove: applystate writes any operation state over
//     any other (a settled row changes, a stopped one returns to pending);
//   - statefold_mutant_claimpasses: a Drive that claimed a start proceeds
//     even when the apply it read after the claim is stopping or halted;
//   - statefold_mutant_lostwrite: an apply write that reported an error but
//     landed is taken for another caller's write (nobody sees Terminalized).
package mutant
