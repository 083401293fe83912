// Package option applies the functional options of the storage backends
// the same way everywhere.
package option

import (
	"fmt"

	"github.com/statefold/statefold/storage"
)

// Apply applies opts to c in order. A nil option is an error matching
// storage.ErrInvalid that names its position: a nil in a list of options
// is a caller's bug (a conditional option left unset), never a default.
func Apply[C any, O ~func(*C)](c *C, opts []O) error {
	for i, o := range opts {
		if o == nil {
			return storage.Invalid(fmt.Sprintf("opts[%d]", i), "nil option")
		}
		o(c)
	}
	return nil
}
