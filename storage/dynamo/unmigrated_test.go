package dynamo

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/testenv"
)

// The first call on tables never created (a prefix with no tables) is
// storage.ErrSchema naming Migrate, with DynamoDB's
// ResourceNotFoundException reachable.
func TestFirstCallOnUnmigratedTables(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	s, err := New(f.client, append(f.opts, WithTablePrefix("statefold_nothing_"))...)
	require.NoError(t, err)
	testenv.FirstCallsAskForMigrate(t, s, func(err error) bool {
		var missing *types.ResourceNotFoundException
		return errors.As(err, &missing)
	})
}
