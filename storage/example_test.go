package storage_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/statefold/statefold/storage"
)

// Every layer validates keys the same way; the error names the field and
// matches ErrInvalid.
func ExampleValidateKey() {
	err := storage.ValidateKey("batch.Queue", strings.Repeat("q", storage.MaxKeyBytes+1))
	fmt.Println(errors.Is(err, storage.ErrInvalid))
	fmt.Println(err)
	fmt.Println(storage.ValidateKey("batch.Queue", "Q#1 é"))
	// Output:
	// true
	// storage: invalid input: batch.Queue: key of 256 bytes exceeds 255
	// <nil>
}
