//go:build statefold_mutant_rowsmove

package mutant

// Name is the planted bug of this build.
const Name = "rowsmove"
