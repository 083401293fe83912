//go:build statefold_mutant_lostwrite

package mutant

// Name is the planted bug of this build.
const Name = "lostwrite"
