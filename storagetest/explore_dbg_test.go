package storagetest

import (
	"context"
	"os"
	"testing"

	"github.com/statefold/statefold/storage/memory"
)

func TestExDebug(t *testing.T) {
	spec := os.Getenv("EXDBG")
	if spec == "" {
		t.Skip()
	}
	sc, sched, _ := cutColon(spec)
	r, err := Replay(context.Background(), memory.New(), sc, sched, NewBatchOrchestrator)
	t.Logf("err=%v\nschedule=%s\nviolation=%v\n%s", err, r.Schedule, r.Violation, r.Trace)
}

func cutColon(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
