//go:build statefold_mutant_claimpasses

package mutant

// Name is the planted bug of this build.
const Name = "claimpasses"
