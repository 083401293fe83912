package applystate_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storagetest"
)

// Forgetting OperationID terminalizes: on an apply with operation rows,
// tasks that name no operation, or name one the apply does not have, are a
// caller bug. Drive returns an error matching storage.ErrInvalid that names
// the field, and writes nothing — least of all a terminal apply.
func TestForgettingOperationIDTerminalizes(t *testing.T) {
	t.Parallel()
	type tasks = []applystate.Task
	for _, c := range []struct {
		name  string
		tasks tasks
		field string
	}{
		{"no OperationID", tasks{{State: cp}}, "tasks[0].OperationID"},
		{"no OperationID, not terminal", tasks{{State: ru}}, "tasks[0].OperationID"},
		{"no OperationID, failed", tasks{{State: fa, ErrorMessage: "boom"}}, "tasks[0].OperationID"},
		{"no tasks", nil, "tasks"},
		{"named and unnamed", tasks{{OperationID: "x", State: cp}, {State: cp}}, "tasks[1].OperationID"},
		{"unknown OperationID", tasks{{OperationID: "ghost", State: ru}}, "tasks[0].OperationID"},
		{"unknown OperationID, terminal", tasks{{OperationID: "ghost", State: cp}}, "tasks[0].OperationID"},
		{"unknown among known", tasks{{OperationID: "x", State: ru}, {OperationID: "ghost", State: ru}}, "tasks[1].OperationID"},
	} {
		for _, started := range []bool{false, true} {
			name := c.name
			if started {
				name += "/apply running"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, []op{{"x", ""}, {"y", ""}, {"z", ""}})
				if started {
					b.drive(t, "y", ru)
				}
				before := b.apply(t)
				b.fs.ResetCounts()
				r, err := b.p.Drive(b.ctx, "a", c.tasks)
				require.ErrorIs(t, err, storage.ErrInvalid)
				require.ErrorContains(t, err, c.field)
				require.False(t, r.Changed)
				require.False(t, r.Terminalized)
				require.Zero(t, b.fs.Writes(), "nothing written; calls: %v", b.fs.Counts())
				require.Equal(t, before, b.apply(t))
				require.Equal(t, string(pe), b.op(t, "x").State)
			})
		}
	}

	// The caller bug is reported whatever the apply's state, a terminal
	// apply included.
	t.Run("terminal apply", func(t *testing.T) {
		t.Parallel()
		b := setup(t, []op{{"x", ""}})
		b.drive(t, "x", cp)
		b.fs.ResetCounts()
		for _, tasks := range [][]applystate.Task{{{State: fa}}, {{OperationID: "ghost", State: ru}}} {
			_, err := b.p.Drive(b.ctx, "a", tasks)
			require.ErrorIs(t, err, storage.ErrInvalid)
			require.ErrorContains(t, err, "tasks[0].OperationID")
		}
		require.Zero(t, b.fs.Writes())
		require.Equal(t, string(cp), b.apply(t).State)
	})

	// Only an apply that truly has no operation rows takes the tasks as
	// its state.
	t.Run("apply without operations", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		r, err := b.p.Drive(b.ctx, "a", []applystate.Task{{State: cp}})
		require.NoError(t, err)
		require.True(t, r.Terminalized)
		require.Equal(t, string(cp), b.apply(t).State)
	})
}

// Rows move backwards: a settled operation (completed, failed, cancelled,
// reverted) never changes again, a stopped one only settles, and no
// operation row is written once its apply is terminal. Drive returns the
// stored state without error and without writing the row, so a late or
// repeated poll is a harmless no-op.
func TestRowsMoveBackwards(t *testing.T) {
	t.Parallel()

	t.Run("terminal apply, completed row", func(t *testing.T) {
		t.Parallel()
		b := setup(t, []op{{"x", ""}, {"y", ""}})
		b.drive(t, "x", ru)
		b.drive(t, "y", ru)
		b.drive(t, "x", cp)
		require.True(t, b.drive(t, "y", cp).Terminalized)
		applyBefore, xBefore := b.apply(t), b.op(t, "x")
		for _, s := range []S{ru, pe, cu, fa, cp} {
			b.fs.ResetCounts()
			r := b.drive(t, "x", s)
			require.Zero(t, b.fs.Writes(), "%s: calls %v", s, b.fs.Counts())
			require.False(t, r.Changed)
			require.False(t, r.Terminalized)
			require.Equal(t, applyBefore, r.Apply)
			require.Equal(t, xBefore, b.op(t, "x"), "%s: a completed row never changes", s)
		}
		require.Equal(t, applyBefore, b.apply(t))
	})

	t.Run("terminal apply, stopped row", func(t *testing.T) {
		t.Parallel()
		b := setup(t, []op{{"busy", ""}, {"later", ""}})
		b.drive(t, "busy", ru)
		_, err := b.p.Stop(b.ctx, "a")
		require.NoError(t, err)
		require.True(t, b.drive(t, "busy", st).Terminalized)
		applyBefore := b.apply(t)
		busy, later := b.op(t, "busy"), b.op(t, "later")
		for _, id := range []string{"busy", "later"} {
			for _, s := range []S{ru, pe, cp} {
				b.fs.ResetCounts()
				r := b.drive(t, id, s)
				require.Zero(t, b.fs.Writes(), "%s %s: calls %v", id, s, b.fs.Counts())
				require.Equal(t, applyBefore, r.Apply)
			}
		}
		require.Equal(t, busy, b.op(t, "busy"))
		require.Equal(t, later, b.op(t, "later"))
		require.Equal(t, applyBefore, b.apply(t))
	})

	// A halt failure fails the apply while a sibling never started: the
	// sibling's row stays pending for good.
	t.Run("terminal apply, pending row", func(t *testing.T) {
		t.Parallel()
		b := setup(t, []op{{"x", ""}, {"y", ""}})
		require.True(t, b.drive(t, "x", fa, "boom").Terminalized)
		b.fs.ResetCounts()
		b.drive(t, "y", ru)
		require.Zero(t, b.fs.Writes(), "calls %v", b.fs.Counts())
		require.Equal(t, string(pe), b.op(t, "y").State)
		require.Equal(t, string(fa), b.apply(t).State)
	})

	// The apply is still running: a settled row stays settled, a stopped
	// one never returns to pending or running.
	t.Run("running apply", func(t *testing.T) {
		t.Parallel()
		b := setup(t, []op{{"done", applystate.Continue}, {"bad", applystate.Continue}, {"busy", ""}, {"later", ""}})
		b.drive(t, "done", cp)
		b.drive(t, "bad", fa, "first")
		b.drive(t, "busy", ru)
		_, err := b.p.Stop(b.ctx, "a")
		require.NoError(t, err)
		require.Equal(t, string(st), b.op(t, "later").State)
		require.Equal(t, string(rd), b.apply(t).State)
		done, bad, later := b.op(t, "done"), b.op(t, "bad"), b.op(t, "later")
		for _, c := range []struct {
			id  string
			s   S
			msg string
		}{
			{"done", ru, ""}, {"done", pe, ""}, {"done", fa, "late"},
			{"bad", ru, ""}, {"bad", fa, "second"}, {"bad", cp, ""},
			{"later", pe, ""}, {"later", ru, ""}, {"later", st, ""}, {"later", cu, ""}, {"later", fr, ""},
		} {
			b.fs.ResetCounts()
			b.drive(t, c.id, c.s, c.msg)
			require.Zero(t, b.fs.Calls(storagetest.UpdateOperation), "%s %s: calls %v", c.id, c.s, b.fs.Counts())
		}
		require.Equal(t, done, b.op(t, "done"))
		require.Equal(t, bad, b.op(t, "bad"))
		require.Equal(t, later, b.op(t, "later"))
		require.Equal(t, string(rd), b.apply(t).State)
		// A stopped row may still settle, and a repeated settled poll is
		// a no-op.
		b.drive(t, "later", ca)
		require.Equal(t, string(ca), b.op(t, "later").State)
		b.fs.ResetCounts()
		b.drive(t, "later", ca)
		require.Zero(t, b.fs.Writes(), "calls %v", b.fs.Counts())
	})
}
