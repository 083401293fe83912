package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
)

// The example runs on the memory store and ends as the rollout policies
// say: failed (a deployment failed), terminalized exactly once, by the last
// deployment to finish, with the first failure in rollout order as message.
func TestRollout(t *testing.T) {
	var out bytes.Buffer
	rep, err := rollout(context.Background(), &out, nil)
	require.NoError(t, err, out.String())
	require.Equal(t, applystate.Failed, rep.Final)
	require.Equal(t, 1, rep.Terminalized)
	require.Equal(t, "ap-south", rep.Terminalizer)
	require.Equal(t, "deployment us-west failed: health check failed", rep.ErrorMessage)
	text := out.String()
	require.Contains(t, text, "paused")
	require.Contains(t, text, "terminalized by ap-south")
	require.Equal(t, 1, strings.Count(text, "terminalized by"))
}

func TestRolloutBadStore(t *testing.T) {
	_, err := rollout(context.Background(), &bytes.Buffer{}, []string{"-store", "nope"})
	require.ErrorContains(t, err, "unknown -store")
}
