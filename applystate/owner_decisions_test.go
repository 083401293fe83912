package applystate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

func owned(owner string, token int64, until time.Time) func(*storage.Operation) {
	return func(op *storage.Operation) { op.Owner, op.OwnerToken, op.OwnerUntil = owner, token, until }
}

func TestAcquisition(t *testing.T) {
	want := Lease{ApplyID: "a", OperationID: "x", Owner: "me"}
	ttl := time.Minute
	for _, c := range []struct {
		name   string
		row    storage.Operation
		owned  bool // ErrOwned
		token  int64
		resume bool
	}{
		{"never acquired", row("x", Pending), false, 1, false},
		{"another owner's live lease", row("x", Running, started, owned("other", 4, tB)), true, 0, false},
		{"another owner's lapsed lease", row("x", Running, started, owned("other", 4, tA)), false, 5, true},
		{"my own live lease", row("x", Pending, owned("me", 2, tB)), false, 3, false},
		{"a released lease", row("x", Pending, owned("other", 2, time.Time{})), false, 3, false},
		{"a granted start", row("x", Pending, started, projected, owned("other", 1, tA)), false, 2, true},
		{"a claim not granted", row("x", Pending, started, owned("other", 1, tA)), false, 2, false},
		{"a stopped row", row("x", Stopped, started, owned("other", 1, tA)), false, 2, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := tA.Add(time.Second)
			w, l, err := acquisition(want, ttl, c.row, now)
			if c.owned {
				require.ErrorIs(t, err, ErrOwned)
				require.ErrorContains(t, err, "other")
				return
			}
			require.NoError(t, err)
			require.Equal(t, Lease{ApplyID: "a", OperationID: "x", Owner: "me", Token: c.token, Until: now.Add(ttl), Resume: c.resume}, l)
			expect := c.row
			expect.Owner, expect.OwnerToken, expect.OwnerUntil, expect.UpdatedAt = "me", c.token, now.Add(ttl), now
			if expect.Projected {
				expect.ProjectedVersion++ // the acknowledgement carried to the version the write creates
			}
			require.Equal(t, expect, w, "every other field kept")
		})
	}
}

func TestOwnershipReadBacks(t *testing.T) {
	read := row("x", Running, version(4), owned("old", 1, tA))
	l := Lease{Owner: "me", Token: 2}
	mine := read
	mine.Version, mine.Owner, mine.OwnerToken = 5, "me", 2
	theirs := read
	theirs.Version, theirs.Owner, theirs.OwnerToken = 5, "other", 2
	require.Equal(t, landed, acquiredBack(mine, read, l))
	require.Equal(t, landed, func() outcome { b := mine; b.Version = 9; return acquiredBack(b, read, l) }(), "a token is written once")
	require.Equal(t, notLanded, acquiredBack(read, read, l))
	require.Equal(t, superseded, acquiredBack(theirs, read, l))

	w := read
	w.OwnerUntil = tB
	renewed := w
	renewed.Version = 5
	require.Equal(t, landed, untilBack(renewed, read, w))
	require.Equal(t, notLanded, untilBack(read, read, w))
	other := read
	other.Version = 5
	require.Equal(t, superseded, untilBack(other, read, w), "another write, not this one")
}

func TestHolds(t *testing.T) {
	l := &Lease{Owner: "me", Token: 3}
	require.True(t, holds(row("x", Pending), nil), "never acquired: no lease needed")
	require.False(t, holds(row("x", Pending, owned("me", 3, tA)), nil), "acquired: a lease is needed")
	require.True(t, holds(row("x", Pending, owned("me", 3, tA)), l), "a lapsed lease nobody took over still holds")
	require.False(t, holds(row("x", Pending, owned("me", 4, tB)), l), "acquired again since")
	require.False(t, holds(row("x", Pending, owned("other", 3, tB)), l))
	require.ErrorIs(t, notOwner(row("x", Pending, owned("other", 3, tB)), l), ErrNotOwner)
	require.ErrorIs(t, notOwner(row("x", Pending, owned("other", 3, tB)), nil), ErrNotOwner)
	require.True(t, live(row("x", Pending, owned("other", 3, tB)), "me", tA))
	require.False(t, live(row("x", Pending, owned("other", 3, tB)), "me", tB), "lapsed at its Until")
	require.False(t, live(row("x", Pending, owned("me", 3, tB)), "me", tA), "my own")
	require.ErrorIs(t, checkTTL(0), storage.ErrInvalid)
	require.NoError(t, checkTTL(time.Nanosecond))
}
