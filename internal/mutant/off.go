//go:build !statefold_mutant_fold && !statefold_mutant_rowsmove && !statefold_mutant_claimpasses && !statefold_mutant_lostwrite

package mutant

// Name is the planted bug of this build; "" plants none.
const Name = ""
