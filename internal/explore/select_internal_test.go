package explore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A selection naming no scenario, or one that is not there, is an error:
// an exploration never passes by exploring nothing.
func TestSelectionNeverEmpty(t *testing.T) {
	t.Parallel()
	all, err := exSelect(Exploration{})
	require.NoError(t, err)
	require.Len(t, all, len(exScenarios))
	one, err := exSelect(Exploration{Scenarios: []string{"TransitionList"}})
	require.NoError(t, err)
	require.Len(t, one, 1)
	_, err = exSelect(Exploration{Scenarios: []string{"TransitionList", "NoSuchScenario"}})
	require.ErrorContains(t, err, `no scenario "NoSuchScenario"`)
}
