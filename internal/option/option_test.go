package option

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
)

type cfg struct{ n []int }

type opt func(*cfg)

func add(n int) opt { return func(c *cfg) { c.n = append(c.n, n) } }

func TestApply(t *testing.T) {
	var c cfg
	require.NoError(t, Apply(&c, []opt{add(1), add(2)}))
	require.Equal(t, []int{1, 2}, c.n, "in order")
	require.NoError(t, Apply(&c, []opt(nil)))
	c = cfg{}
	err := Apply(&c, []opt{add(1), nil, add(3)})
	require.ErrorIs(t, err, storage.ErrInvalid)
	require.ErrorContains(t, err, "opts")
	require.ErrorContains(t, err, "option 1 is nil")
	require.Equal(t, []int{1}, c.n, "nothing after the nil option")
}

func TestClockAndLogger(t *testing.T) {
	require.NoError(t, ClockAndLogger(time.Now, slog.Default()))
	err := ClockAndLogger(nil, slog.Default())
	require.ErrorIs(t, err, storage.ErrInvalid)
	require.ErrorContains(t, err, "WithClock")
	err = ClockAndLogger(time.Now, nil)
	require.ErrorIs(t, err, storage.ErrInvalid)
	require.ErrorContains(t, err, "WithLogger")
}
