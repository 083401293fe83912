package batchstate_test

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
)

// The facts the README and docs/design.md state about batchstate's
// options are the code's.

// optionDefaults maps each option to its default, as the docs write it.
var optionDefaults = map[string]time.Duration{
	"WithDanglingGrace":   batchstate.DefaultDanglingGrace,
	"WithListConcurrency": batchstate.DefaultListConcurrency,
	"WithReconcileLease":  batchstate.DefaultReconcileLease,
}

// statedDefault matches "`[batchstate.]WithX`, default V" across a line
// break; V is a number with an optional unit.
var statedDefault = regexp.MustCompile("`(?:batchstate\\.)?(With[A-Za-z]+)`,\\s+default\\s+(\\d+)\\s*(s|ms|minutes?|seconds?)?\\b")

// parseStated reads a stated default as a count or a duration.
func parseStated(t *testing.T, n, unit string) time.Duration {
	t.Helper()
	v, err := strconv.Atoi(n)
	require.NoError(t, err)
	switch strings.TrimSuffix(unit, "s") {
	case "":
		if unit == "s" {
			return time.Duration(v) * time.Second
		}
		return time.Duration(v)
	case "m":
		return time.Duration(v) * time.Millisecond
	case "minute":
		return time.Duration(v) * time.Minute
	case "second":
		return time.Duration(v) * time.Second
	}
	t.Fatalf("unknown unit %q", unit)
	return 0
}

// section returns the text of the markdown section that starts with
// heading, up to the next heading of its level.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	require.GreaterOrEqual(t, i, 0, "no %q section", heading)
	rest := doc[i+len(heading)+2:]
	level := heading[:strings.Index(heading, " ")+1]
	if j := strings.Index(rest, "\n"+level); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func TestDocumentedDefaults(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	design, err := os.ReadFile("../docs/design.md")
	require.NoError(t, err)
	for _, c := range []struct {
		name, text string
		want       []string // options whose default the text must state
	}{
		{"README", string(readme), []string{"WithDanglingGrace", "WithListConcurrency"}},
		{"docs/design.md, batchstate", section(t, string(design), "## batchstate"), []string{"WithReconcileLease"}},
	} {
		stated := map[string]bool{}
		for _, m := range statedDefault.FindAllStringSubmatch(c.text, -1) {
			want, ok := optionDefaults[m[1]]
			if !ok {
				continue // another package's option
			}
			require.Equal(t, want, parseStated(t, m[2], m[3]), "%s: %q", c.name, m[0])
			stated[m[1]] = true
		}
		for _, o := range c.want {
			require.True(t, stated[o], "%s states the default of %s", c.name, o)
		}
	}
}

func TestParseStated(t *testing.T) {
	t.Parallel()
	require.Equal(t, 10*time.Minute, parseStated(t, "10", "minutes"))
	require.Equal(t, 30*time.Second, parseStated(t, "30", "s"))
	require.Equal(t, 5*time.Millisecond, parseStated(t, "5", "ms"))
	require.Equal(t, time.Duration(8), parseStated(t, "8", ""))
}

// docs/design.md: Reconcile takes the lease only for the rows of live
// batches. Removing terminal rows and a missing batch's row after its
// tombstone leaves the queue without a lease row; removing the row of a
// fenced transition takes (and releases) it.
func TestReconcileTakesTheLeaseOnlyForLiveRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, mq, batchstate.WithDanglingGrace(time.Minute))
	fin := b.create(t, "fin", "merging")
	_, err := b.o.Transition(ctx, fin, "failed")
	require.NoError(t, err)
	old := b.clock.Now().Add(-time.Hour)
	require.NoError(t, b.store.AddMember(ctx, storage.Member{Queue: "q", State: "merging", BatchID: "fin", Version: 1, AddedAt: old}))
	require.NoError(t, b.store.AddMember(ctx, storage.Member{Queue: "q", State: "created", BatchID: "gone", Version: 1, AddedAt: old}))
	rep, err := b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, batchstate.ReconcileReport{Scanned: 2, RemovedTerminal: 1, RemovedDangling: 1, Fenced: 1, Unresolved: []string{"gone"}}, rep)
	_, err = b.store.GetBatch(ctx, "q", batchstate.LeaseID)
	require.ErrorIs(t, err, storage.ErrNotFound, "no lease for terminal rows, a tombstone and its row")

	x := b.create(t, "x", "created")
	b.spy.failNext(mUpdateBatch)
	_, err = b.o.Transition(ctx, x, "speculating") // its row stays, ahead of the batch
	require.ErrorIs(t, err, errInjected)
	b.clock.Advance(2 * time.Minute)
	rep, err = b.o.Reconcile(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, 1, rep.Fenced)
	require.Equal(t, 1, rep.RemovedStale)
	lease, err := b.store.GetBatch(ctx, "q", batchstate.LeaseID)
	require.NoError(t, err, "the row of a live batch went under the lease")
	require.Equal(t, int64(2), lease.Version, "taken, then released")
}
