//go:build statefold_mutant_fold

package mutant

// Name is the planted bug of this build.
const Name = "fold"
