package readback

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

func TestVerdict(t *testing.T) {
	t.Parallel()
	queued := "queued"
	require.ErrorIs(t, Verdict("mysql: update batch", 3, 2, "", nil, 1), storage.ErrConflict)
	require.ErrorIs(t, Verdict("mysql: update batch", 2, 2, "running", &queued, 1), storage.ErrConflict)
	require.NoError(t, Verdict("mysql: update batch", 2, 2, "queued", &queued, 1), "the expected row: run the UPDATE again")
	require.NoError(t, Verdict("mysql: update apply", 2, 2, "", nil, MaxAttempts-1))
	err := Verdict("mysql: update apply", 2, 2, "", nil, MaxAttempts)
	require.ErrorIs(t, err, storage.ErrConflict)
	require.ErrorContains(t, err, "mysql: update apply: stored version 2")
}
