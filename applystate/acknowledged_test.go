package applystate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/internal/explore"
	"github.com/statefold/statefold/storagetest"
)

// A write by a release that does not know the acknowledgement (it keeps
// Projected as stored and bumps the version, as v0.1.0's UPDATE does)
// un-acknowledges the row: the deployment's next poll projects it again,
// with no Reproject.
func TestOlderWriteUnacknowledges(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"x", ""}, {"y", ""}})
	b.drive(t, "x", cp)
	b.drive(t, "y", ru)
	acked := b.op(t, "y")
	require.True(t, applystate.Acknowledged(acked))

	// The older release writes y completed, and crashes before its apply
	// write.
	old := acked
	old.State, old.CompletedAt = string(cp), acked.StartedAt.Add(time.Second)
	stored, err := b.store.UpdateOperation(b.ctx, old, acked.Version)
	require.NoError(t, err)
	require.True(t, stored.Projected, "the older write keeps the field it does not know")
	require.False(t, applystate.Acknowledged(stored), "but the row is no longer acknowledged")
	require.Equal(t, string(ru), b.apply(t).State)

	// The deployment's poll reports what the row says: nothing to write
	// on the row, yet the apply is projected over it.
	r := b.drive(t, "y", cp)
	require.Equal(t, string(cp), r.Apply.State, "the poll projected the older release's write")
	require.True(t, r.Terminalized)
	require.NoError(t, explore.CheckApplyProjected(b.ctx, b.store, "a"))
}

// Writes of this release that change nothing the projection reads — an
// acquisition, a renewal — keep the acknowledgement: a granted start stays
// granted, and a poll that changes nothing stays two point reads.
func TestOwnershipWritesKeepTheAcknowledgement(t *testing.T) {
	t.Parallel()
	b := setup(t, []op{{"x", ""}, {"y", ""}})
	require.Equal(t, applystate.Proceed, b.drive(t, "x", pe).Next)
	require.True(t, applystate.Acknowledged(b.op(t, "x")), "the claim is granted")
	l := b.acquire(t, b.p, "x", "loop-1")
	l, err := b.p.Renew(b.ctx, l, time.Minute)
	require.NoError(t, err)
	row := b.op(t, "x")
	require.Equal(t, int64(5), row.Version, "created, claimed, acknowledged, acquired, renewed")
	require.True(t, applystate.Acknowledged(row), "the acquisition and the renewal carried the acknowledgement")
	b.fs.ResetCounts()
	r, err := b.driveAs(b.p, l, pe)
	require.NoError(t, err)
	require.Equal(t, applystate.Resume, r.Next, "the granted start is kept")
	require.Equal(t, 2, b.fs.TotalCalls(), "%v", b.fs.Counts())
	require.Equal(t, 1, b.fs.Calls(storagetest.GetOperation))
}
