package batchstate

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

// requireField requires err to be nil when field is "", else to match
// storage.ErrInvalid and name field.
func requireField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		require.NoError(t, err)
		return
	}
	require.ErrorIs(t, err, storage.ErrInvalid)
	var fe *storage.FieldError
	require.True(t, errors.As(err, &fe), "%v", err)
	require.Equal(t, field, fe.Field, "%v", err)
}
