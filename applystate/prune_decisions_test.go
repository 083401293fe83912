package applystate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

func TestPrunable(t *testing.T) {
	cut := time.Date(2026, 5, 6, 0, 0, 0, 0, time.UTC)
	early, late := cut.Add(-time.Hour), cut.Add(time.Hour)
	for _, tc := range []struct {
		name string
		a    storage.Apply
		want bool
		day  string
	}{
		{"completed before the cutoff", storage.Apply{State: string(Completed), CompletedAt: early, UpdatedAt: late}, true, "2026-05-05"},
		{"failed before the cutoff", storage.Apply{State: string(Failed), CompletedAt: early}, true, "2026-05-05"},
		{"completed at the cutoff", storage.Apply{State: string(Completed), CompletedAt: cut}, false, "2026-05-06"},
		{"completed after the cutoff", storage.Apply{State: string(Reverted), CompletedAt: late, UpdatedAt: early}, false, "2026-05-06"},
		{"stopped: its terminal write's UpdatedAt", storage.Apply{State: string(Stopped), UpdatedAt: early}, true, "2026-05-05"},
		{"stopped after the cutoff", storage.Apply{State: string(Stopped), UpdatedAt: late}, false, "2026-05-06"},
		{"running: never", storage.Apply{State: string(Running), CompletedAt: early, UpdatedAt: early}, false, "2026-05-05"},
		{"paused: never", storage.Apply{State: string(Paused), UpdatedAt: early}, false, "2026-05-05"},
	} {
		require.Equal(t, tc.want, prunable(tc.a, cut), tc.name)
		require.Equal(t, finishedPrefix+tc.day, finishedBucket(completion(tc.a)), tc.name)
	}
}
