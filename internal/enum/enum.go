// Package enum names the values of statefold's integer enumerations, as
// stringer would: each type keeps its names in an array indexed by value,
// and its String method asks [Name].
package enum

import "fmt"

// Name returns the name names holds for v, or typ(v) — "Mode(7)" — for a
// value it holds none for (out of range, or an empty name).
func Name[E ~int](typ string, names []string, v E) string {
	if v < 0 || int(v) >= len(names) || names[v] == "" {
		return fmt.Sprintf("%s(%d)", typ, int(v))
	}
	return names[v]
}
