package batchstate

import (
	"slices"
	"strings"

	"github.com/statefold/statefold/storage"
)

// Machine describes the states a batch may be in and how it may move.
type Machine struct {
	// States lists every state a batch may be in. Each is a storage key
	// (non-empty, valid UTF-8, at most storage.MaxKeyBytes bytes).
	States []string
	// Terminal is the subset of States a batch never leaves. Terminal states
	// are not indexed.
	Terminal []string
	// Transitions optionally lists, per state, the states a batch may move
	// to. Nil allows any move out of a non-terminal state; a non-nil map
	// allows only the moves it lists (a state without an entry has none).
	Transitions map[string][]string
}

// Validate reports whether m is usable: at least one state, no duplicates,
// every state a valid key, none of them [Abandoned] and none starting
// with "\x00statefold:" (the indexes' buckets), terminal states
// among the states, and transitions naming only known states and none
// leaving a terminal state.
// Errors match storage.ErrInvalid and name the offending field and state.
func (m Machine) Validate() error {
	if len(m.States) == 0 {
		return storage.Invalid("machine.States", "no states")
	}
	seen := make(map[string]bool, len(m.States))
	for i, s := range m.States {
		if err := storage.ValidateKey("machine.States", s); err != nil {
			return storage.Invalid("machine.States", "state %d (%q): %v", i, s, unwrapReason(err))
		}
		if seen[s] {
			return storage.Invalid("machine.States", "state %q listed twice", s)
		}
		if s == Abandoned {
			return storage.Invalid("machine.States", "state %q is reserved for tombstones", s)
		}
		if strings.HasPrefix(s, reserved) {
			return storage.Invalid("machine.States", "state %q: the prefix %q is reserved for the indexes", s, reserved)
		}
		seen[s] = true
	}
	for _, s := range m.Terminal {
		if !seen[s] {
			return storage.Invalid("machine.Terminal", "terminal state %q is not one of the states", s)
		}
	}
	for from, tos := range m.Transitions {
		if !seen[from] {
			return storage.Invalid("machine.Transitions", "transition from unknown state %q", from)
		}
		if len(tos) > 0 && slices.Contains(m.Terminal, from) {
			return storage.Invalid("machine.Transitions", "transition out of terminal state %q", from)
		}
		for _, to := range tos {
			if !seen[to] {
				return storage.Invalid("machine.Transitions", "transition %q → %q names an unknown state", from, to)
			}
		}
	}
	return nil
}

// Known reports whether s is one of the machine's states.
func (m Machine) Known(s string) bool { return slices.Contains(m.States, s) }

// IsTerminal reports whether s is a terminal state.
func (m Machine) IsTerminal(s string) bool { return slices.Contains(m.Terminal, s) }

// Allowed reports whether a batch may move from one state to another:
// both known, from not terminal, and the move listed in Transitions unless
// Transitions is nil.
func (m Machine) Allowed(from, to string) bool {
	if !m.Known(from) || !m.Known(to) || m.IsTerminal(from) {
		return false
	}
	if m.Transitions == nil {
		return true
	}
	return slices.Contains(m.Transitions[from], to)
}

// NonTerminal returns the indexed states, in the order of States.
func (m Machine) NonTerminal() []string {
	out := make([]string, 0, len(m.States))
	for _, s := range m.States {
		if !m.IsTerminal(s) {
			out = append(out, s)
		}
	}
	return out
}

// clone returns a deep copy, so that a caller changing its Machine after
// New cannot change the orchestrator's.
func (m Machine) clone() Machine {
	c := Machine{States: slices.Clone(m.States), Terminal: slices.Clone(m.Terminal)}
	if m.Transitions != nil {
		c.Transitions = make(map[string][]string, len(m.Transitions))
		for k, v := range m.Transitions {
			c.Transitions[k] = slices.Clone(v)
		}
	}
	return c
}

func unwrapReason(err error) string {
	if fe, ok := err.(*storage.FieldError); ok {
		return fe.Reason
	}
	return err.Error()
}

// final reports whether s is a state a batch never leaves: a terminal state
// of the machine, or [Abandoned].
func (m Machine) final(s string) bool { return s == Abandoned || m.IsTerminal(s) }
