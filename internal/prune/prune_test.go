package prune

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDays(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return tm
	}
	day1, day2 := at("2031-01-02T00:00:00Z"), at("2031-01-03T00:00:00Z")
	require.Equal(t, []time.Time{day1, day2}, Days(at("2031-01-02T10:00:00Z"), at("2031-01-03T00:00:01Z")))
	require.Equal(t, []time.Time{day1}, Days(at("2031-01-02T10:00:00Z"), day2), "before is excluded")
	require.Equal(t, []time.Time{day1}, Days(at("2031-01-03T01:00:00+02:00"), at("2031-01-02T23:00:00-01:00")), "days are UTC days")
	require.Empty(t, Days(day2, day1))
}

func TestWindows(t *testing.T) {
	rows := []int{1, 2, 3, 4, 5, 6, 7}
	walk := func(width, limit int) (windows [][]int, more bool, err error) {
		done := 0
		more, err = Windows(rows, width, func() int { return limit - done }, func(w []int) error {
			windows, done = append(windows, w), done+len(w)
			return nil
		})
		return windows, more, err
	}
	got, more, err := walk(3, 100)
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, [][]int{{1, 2, 3}, {4, 5, 6}, {7}}, got)

	got, more, err = walk(3, 5)
	require.NoError(t, err)
	require.True(t, more, "rows are left when the limit is reached")
	require.Equal(t, [][]int{{1, 2, 3}, {4, 5}}, got, "no window is larger than the limit has left")

	got, more, err = walk(3, 7)
	require.NoError(t, err)
	require.False(t, more, "the limit reached with no row left is not more")
	require.Len(t, got, 3)

	boom := errors.New("boom")
	calls := 0
	more, err = Windows(rows, 2, func() int { return 10 }, func([]int) error { calls++; return boom })
	require.ErrorIs(t, err, boom)
	require.False(t, more)
	require.Equal(t, 1, calls, "the walk stops at the first error")
}
