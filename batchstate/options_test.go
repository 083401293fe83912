package batchstate_test

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// New reports every store, machine and option it cannot use as
// storage.ErrInvalid naming it; it replaces no value silently.
func TestNewRejects(t *testing.T) {
	t.Parallel()
	s := memory.New()
	for _, c := range []struct {
		name    string
		batches storage.BatchStore
		members storage.MembershipStore
		m       batchstate.Machine
		opt     batchstate.Option
		field   string
	}{
		{"nil batch store", nil, s, mq, nil, "batches"},
		{"nil membership store", s, nil, mq, nil, "members"},
		{"machine without states", s, s, batchstate.Machine{}, nil, "machine.States"},
		{"nil option", s, s, mq, nil, "opts"},
		{"nil clock", s, s, mq, batchstate.WithClock(nil), "WithClock"},
		{"nil logger", s, s, mq, batchstate.WithLogger(nil), "WithLogger"},
		{"negative grace", s, s, mq, batchstate.WithDanglingGrace(-time.Second), "WithDanglingGrace"},
		{"zero grace", s, s, mq, batchstate.WithDanglingGrace(0), "WithDanglingGrace"},
		{"zero concurrency", s, s, mq, batchstate.WithListConcurrency(0), "WithListConcurrency"},
		{"negative concurrency", s, s, mq, batchstate.WithListConcurrency(-1), "WithListConcurrency"},
		{"zero attempts", s, s, mq, batchstate.WithListRetry(0, time.Millisecond), "WithListRetry"},
		{"negative backoff", s, s, mq, batchstate.WithListRetry(1, -time.Millisecond), "WithListRetry"},
		{"zero lease", s, s, mq, batchstate.WithReconcileLease(0), "WithReconcileLease"},
		{"negative lease", s, s, mq, batchstate.WithReconcileLease(-time.Second), "WithReconcileLease"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := []batchstate.Option{c.opt}
			if c.opt == nil && c.field != "opts" {
				opts = nil
			}
			o, err := batchstate.New(c.batches, c.members, c.m, opts...)
			require.Nil(t, o)
			require.ErrorIs(t, err, storage.ErrInvalid)
			var fe *storage.FieldError
			require.True(t, errors.As(err, &fe), "%v", err)
			require.Equal(t, c.field, fe.Field, "%v", err)
		})
	}
}

// The smallest values every option takes are accepted.
func TestNewAcceptsTheLeastValues(t *testing.T) {
	t.Parallel()
	s := memory.New()
	o, err := batchstate.New(s, s, mq,
		batchstate.WithClock(time.Now),
		batchstate.WithLogger(slog.New(slog.DiscardHandler)),
		batchstate.WithDanglingGrace(time.Nanosecond),
		batchstate.WithListConcurrency(1),
		batchstate.WithListRetry(1, 0),
		batchstate.WithReconcileLease(time.Nanosecond))
	require.NoError(t, err)
	require.NotNil(t, o)
}
