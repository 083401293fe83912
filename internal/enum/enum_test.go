package enum

import (
	"testing"

	"github.com/stretchr/testify/require"
)

type color int

const (
	red color = iota + 1
	green
)

var colorNames = [...]string{red: "red", green: "green"}

func TestName(t *testing.T) {
	require.Equal(t, "red", Name("color", colorNames[:], red))
	require.Equal(t, "green", Name("color", colorNames[:], green))
	require.Equal(t, "color(0)", Name("color", colorNames[:], color(0)), "an empty name is no name")
	require.Equal(t, "color(3)", Name("color", colorNames[:], color(3)))
	require.Equal(t, "color(-1)", Name("color", colorNames[:], color(-1)))
}
