package batchstate_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

func TestMachineValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, field string
		m           batchstate.Machine
	}{
		{"no states", "machine.States", batchstate.Machine{}},
		{"empty state", "machine.States", batchstate.Machine{States: []string{"a", ""}}},
		{"oversized state", "machine.States", batchstate.Machine{States: []string{strings.Repeat("s", 256)}}},
		{"invalid UTF-8 state", "machine.States", batchstate.Machine{States: []string{"\xff"}}},
		{"duplicate", "machine.States", batchstate.Machine{States: []string{"a", "a"}}},
		{"unknown terminal", "machine.Terminal", batchstate.Machine{States: []string{"a"}, Terminal: []string{"b"}}},
		{"unknown from", "machine.Transitions", batchstate.Machine{States: []string{"a"}, Transitions: map[string][]string{"b": {"a"}}}},
		{"unknown to", "machine.Transitions", batchstate.Machine{States: []string{"a"}, Transitions: map[string][]string{"a": {"b"}}}},
		{"out of terminal", "machine.Transitions", batchstate.Machine{States: []string{"a", "z"}, Terminal: []string{"z"}, Transitions: map[string][]string{"z": {"a"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.m.Validate()
			require.ErrorIs(t, err, storage.ErrInvalid)
			require.ErrorContains(t, err, c.field)
			_, err = batchstate.New(memory.New(), memory.New(), c.m)
			require.ErrorIs(t, err, storage.ErrInvalid)
		})
	}
	require.NoError(t, mq.Validate())
	require.True(t, mq.Allowed("created", "speculating"))
	require.False(t, mq.Allowed("created", "merging"))
	require.False(t, mq.Allowed("succeeded", "created"))
	require.Equal(t, []string{"created", "speculating", "merging", "cancelling"}, mq.NonTerminal())
}

func TestNewCopiesTheMachine(t *testing.T) {
	t.Parallel()
	m := batchstate.Machine{States: []string{"a", "b", "z"}, Terminal: []string{"z"}, Transitions: map[string][]string{"a": {"b"}}}
	s := memory.New()
	o, err := batchstate.New(s, s, m)
	require.NoError(t, err)
	m.States[0] = "changed"
	m.Transitions["a"][0] = "z"
	m.Terminal[0] = "a"
	got := o.Machine()
	require.Equal(t, []string{"a", "b", "z"}, got.States)
	require.Equal(t, []string{"b"}, got.Transitions["a"])
	require.True(t, got.IsTerminal("z"))
}
