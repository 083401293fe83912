package main

import (
	"bytes"
	"context"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

// The example runs briefly on the memory store and its report proves the
// invariant: no live batch missing from a listing, no row left behind.
func TestMergeQueue(t *testing.T) {
	var out bytes.Buffer
	rep, err := run(context.Background(), &out, []string{"-batches", "40", "-workers", "3", "-reconcile-every", "5ms"})
	require.NoError(t, err, out.String())
	require.Zero(t, rep.Misses)
	require.Zero(t, rep.IndexRows)
	require.Positive(t, rep.Checks, "the checker must have observed live batches")
	require.Positive(t, rep.Reconciles, "the janitor ran while the queue was busy")
	require.Positive(t, rep.CrashesInjected)
	require.Positive(t, rep.Abandoned)
	require.Equal(t, 40, rep.Created+rep.Abandoned)
	require.Equal(t, rep.Created, rep.Succeeded+rep.Failed+rep.Cancelled, "every created batch ends terminal")
	require.Contains(t, out.String(), "0 times the\n            listing missed it")
}

// -h prints the usage and is no error for main.
func TestMergeQueueHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := run(context.Background(), &out, []string{"-h"})
	require.ErrorIs(t, err, flag.ErrHelp)
	require.Contains(t, out.String(), "usage: mergequeue")
}

func TestMergeQueueBadFlags(t *testing.T) {
	var out bytes.Buffer
	_, err := run(context.Background(), &out, []string{"-workers", "0"})
	require.Error(t, err)
	_, err = run(context.Background(), &out, []string{"-store", "nope"})
	require.ErrorContains(t, err, "unknown -store")
}
