package storagetest

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/statefold/statefold/storage/memory"
)

func TestExMeasure(t *testing.T) {
	ev := os.Getenv("EXEVENTS")
	if ev == "" {
		t.Skip()
	}
	n, _ := strconv.Atoi(ev)
	x := Exploration{Preemptions: 2, Faults: 1, ClockAdvances: 1, Events: n}
	start := time.Now()
	total := 0
	for _, sc := range exScenarios {
		res, err := exExplore(context.Background(), memory.New(), sc, x, NewBatchOrchestrator)
		if err != nil {
			t.Fatal(err)
		}
		total += res.Schedules()
		t.Logf("%-26s %6d %v %s viol=%d", sc.name, res.Bounded, res.PerLevel, res.Elapsed.Round(time.Millisecond), len(res.Violations))
		for _, v := range res.Violations {
			t.Log(v.Error())
		}
	}
	t.Logf("total %d in %s", total, time.Since(start))
}
