package main

import (
	"bytes"
	"context"
	"flag"
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
	require.True(t, rep.Waited, "ap-south was told to wait while paused")
	text := out.String()
	require.Contains(t, text, "paused")
	require.Contains(t, text, "wait")
	require.Contains(t, text, "proceed")
	require.Contains(t, text, "terminalized by ap-south")
	require.Equal(t, 1, strings.Count(text, "terminalized by"))
}

func TestRolloutBadStore(t *testing.T) {
	_, err := rollout(context.Background(), &bytes.Buffer{}, []string{"-store", "nope"})
	require.ErrorContains(t, err, "unknown -store")
}

// -h prints the usage and is no error for main.
func TestRolloutHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := rollout(context.Background(), &out, []string{"-h"})
	require.ErrorIs(t, err, flag.ErrHelp)
	require.Contains(t, out.String(), "usage: rollout")
}

// A second run with the same apply id reports the finished apply.
func TestRolloutAgainReportsTheFinishedApply(t *testing.T) {
	var out bytes.Buffer
	_, err := rollout(context.Background(), &out, []string{"-apply", "again"})
	require.NoError(t, err)
	require.NotContains(t, out.String(), "already finished")
}
