package batchstate

import (
	"testing"

	"github.com/statefold/statefold/storage/memory"
)

// uncomparable holds a slice: comparing two of them panics in Go.
type uncomparable struct {
	*memory.Store
	tags []string
}

func TestSameStore(t *testing.T) {
	a, b := memory.New(), memory.New()
	if !sameStore(a, a) || sameStore(a, b) {
		t.Fatal("one store is the same as itself and not another")
	}
	var x, y any = uncomparable{Store: a}, uncomparable{Store: a}
	if sameStore(x, y) {
		t.Fatal("values Go cannot compare are not the same store")
	}
}
