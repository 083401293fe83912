package hook

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/observe"
	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

type key struct{}

// recorder records what its hooks hear.
type recorder struct{ log []string }

func (r *recorder) hooks(name string) observe.Hooks {
	return observe.Hooks{
		OnStart: func(ctx context.Context, c observe.Call) context.Context {
			r.log = append(r.log, name+" start "+c.Method)
			return context.WithValue(ctx, key{}, name)
		},
		OnEnd: func(ctx context.Context, c observe.Call, o observe.Outcome) {
			r.log = append(r.log, fmt.Sprintf("%s end %s %s ctx=%v", name, c.Method, o.ErrorType, ctx.Value(key{})))
		},
		OnEvent: func(ctx context.Context, e observe.Event) {
			r.log = append(r.log, fmt.Sprintf("%s event %s %s %d %s", name, e.Kind, e.Reason, e.Count, e.Call.Method))
		},
	}
}

func TestCallAndEvents(t *testing.T) {
	var off Set
	ctx, c := off.Start(context.Background(), observe.Call{Method: "X"})
	Emit(ctx, observe.Event{Kind: observe.Retry}) // outside a call: nothing
	c.End(nil, observe.Outcome{}, nil)
	require.False(t, off.On())

	var r recorder
	var s Set
	s.Add(r.hooks("a"))
	s.Add(observe.Hooks{}) // every func nil
	s.Add(r.hooks("b"))
	ctx, c = s.Start(context.Background(), observe.Call{Method: "Drive"})
	Emit(ctx, observe.Event{Kind: observe.Removed, Reason: "stale", Count: 3})
	Emit(ctx, observe.Event{Kind: observe.Retry, Attempt: 2})
	c.End(fmt.Errorf("x: %w", storage.ErrConflict), observe.Outcome{}, nil)
	require.Equal(t, []string{
		"a start Drive", "b start Drive",
		"a event removed stale 3 Drive", "b event removed stale 3 Drive",
		"a event retry  1 Drive", "b event retry  1 Drive",
		"a end Drive conflict ctx=b", "b end Drive conflict ctx=b",
	}, r.log)
}

func TestErrorType(t *testing.T) {
	for err, want := range map[error]string{
		nil: "", errors.New("boom"): "other", context.Canceled: "canceled",
		fmt.Errorf("%w: %w", storage.ErrUnavailable, storage.ErrAmbiguous): "ambiguous",
		storage.Invalid("f", "bad"):                                        "invalid", storage.ErrNotFound: "not_found",
		storage.ErrSchema: "schema", context.DeadlineExceeded: "deadline_exceeded",
	} {
		require.Equal(t, want, ErrorType(err), "%v", err)
	}
}

// failing answers every write with err.
type failing struct {
	storage.Store
	err error
}

func (f failing) UpdateApply(context.Context, storage.Apply, int64) (storage.Apply, error) {
	return storage.Apply{}, f.err
}

func (f failing) AddMember(context.Context, storage.Member) error { return f.err }

func TestStoresReportWrites(t *testing.T) {
	var r recorder
	var s Set
	s.Add(r.hooks("h"))
	ctx, _ := s.Start(context.Background(), observe.Call{Method: "M"})
	conflict := failing{memory.New(), storage.ErrConflict}
	_, err := Applies(conflict).UpdateApply(ctx, storage.Apply{}, 1)
	require.ErrorIs(t, err, storage.ErrConflict, "the error is passed on")
	require.Error(t, Members(failing{memory.New(), fmt.Errorf("lost: %w", storage.ErrAmbiguous)}).AddMember(ctx, storage.Member{}))
	require.ErrorIs(t, Members(failing{memory.New(), storage.ErrNotFound}).AddMember(ctx, storage.Member{}), storage.ErrNotFound)
	require.Nil(t, Operations(nil))
	require.Equal(t, []string{"h start M", "h event conflict UpdateApply 1 M", "h event ambiguous AddMember 1 M"}, r.log)
}
