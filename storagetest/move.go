package storagetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"

	"github.com/statefold/statefold/internal/explore"
)

// moveCase is a situation a MoveBatch meets: the batch as stored (none
// when missing), the row of the new state as stored (none when absent),
// and the version and state the caller expects.
type moveCase struct {
	stored          *storage.Batch
	row             int64 // the stored row's version; 0: no row
	expectedVersion int64
	expectedState   string
}

// moveCases are the situations runMove compares: the row absent, older,
// equal and newer; the batch at another version, in another state,
// missing.
var moveCases = map[string]moveCase{
	"RowAbsent":    {stored: &storage.Batch{State: "from", Version: 3}, expectedVersion: 3, expectedState: "from"},
	"RowOlder":     {stored: &storage.Batch{State: "from", Version: 3}, row: 2, expectedVersion: 3, expectedState: "from"},
	"RowEqual":     {stored: &storage.Batch{State: "from", Version: 3}, row: 4, expectedVersion: 3, expectedState: "from"},
	"RowNewer":     {stored: &storage.Batch{State: "from", Version: 3}, row: 9, expectedVersion: 3, expectedState: "from"},
	"StaleVersion": {stored: &storage.Batch{State: "from", Version: 5}, expectedVersion: 3, expectedState: "from"},
	"OtherState":   {stored: &storage.Batch{State: "else", Version: 3}, row: 1, expectedVersion: 3, expectedState: "from"},
	"Missing":      {expectedVersion: 3, expectedState: "from"},
}

// runMove checks the optional capability storage.Mover against the Store
// methods it stands for: in every case of moveCases, MoveBatch answers
// what AddMember and then (if it succeeded) UpdateBatch answer on a twin
// batch, and leaves the batch and the row as they leave them; of racing
// moves out of one version exactly one wins; bad input is ErrInvalid and
// writes nothing. A store that lacks it must say so with
// errors.ErrUnsupported, if it has the method at all.
func runMove(t *testing.T, newStore func(t *testing.T) storage.Store) {
	cases := map[string]func(t *testing.T, ctx context.Context, s storage.Store){
		"OneWinner": moveOneWinner,
		"BadInput":  moveBadInput,
	}
	for name, c := range moveCases {
		cases["MatchesGeneric/"+name] = func(t *testing.T, ctx context.Context, s storage.Store) { moveMatchesGeneric(t, ctx, s, c) }
	}
	explore.Parallel(t, newStore, cases)
}

// moverOf returns s's Mover, if it offers one: false when it does not
// (and then a MoveBatch it has must answer errors.ErrUnsupported).
func moverOf(t *testing.T, ctx context.Context, s storage.Store) (storage.Mover, bool) {
	mv, ok := s.(storage.Mover)
	if !ok {
		return nil, false
	}
	q := UniqueID("q")
	_, err := mv.MoveBatch(ctx, storage.Member{Queue: q, State: "to", BatchID: "b", Version: 2}, storage.Batch{Queue: q, ID: "b", State: "to"}, 1, "from")
	if errors.Is(err, errors.ErrUnsupported) {
		return nil, false
	}
	require.ErrorIs(t, err, storage.ErrNotFound, "MoveBatch of a missing batch")
	return mv, true
}

// seedMove writes c's batch and row under (q, id).
func seedMove(t *testing.T, ctx context.Context, s storage.Store, q, id string, c moveCase) {
	if c.stored != nil {
		b, err := s.CreateBatch(ctx, storage.Batch{Queue: q, ID: id, State: c.stored.State, Payload: []byte("old"), CreatedAt: ts(0), UpdatedAt: ts(0)})
		require.NoError(t, err)
		for b.Version < c.stored.Version {
			b, err = s.UpdateBatch(ctx, b, b.Version, b.State)
			require.NoError(t, err)
		}
	}
	if c.row > 0 {
		require.NoError(t, s.AddMember(ctx, storage.Member{Queue: q, State: "to", BatchID: id, Version: c.row, AddedAt: ts(0)}))
	}
}

// moveOutcome is what a move left: its answer's class, the batch and the
// row of the new state.
type moveOutcome struct {
	answer   error // nil, ErrConflict or ErrNotFound
	returned int64 // the version returned on success
	batch    *storage.Batch
	row      *storage.Member
}

// outcome reads what a move of (q, id) that answered err left.
func outcome(t *testing.T, ctx context.Context, s storage.Store, q, id string, got storage.Batch, err error) moveOutcome {
	var o moveOutcome
	switch {
	case err == nil:
		o.returned = got.Version
	case errors.Is(err, storage.ErrConflict):
		o.answer = storage.ErrConflict
	case errors.Is(err, storage.ErrNotFound):
		o.answer = storage.ErrNotFound
	default:
		require.NoError(t, err, "a move answers success, ErrConflict or ErrNotFound")
	}
	if b, err := s.GetBatch(ctx, q, id); err == nil {
		b.ID = ""
		o.batch = &b
	}
	rows, err := s.ListMembers(ctx, q, "to")
	require.NoError(t, err)
	for _, r := range rows {
		if r.BatchID == id {
			r.BatchID = ""
			o.row = &r
		}
	}
	return o
}

// moveMatchesGeneric runs c through MoveBatch on one batch and through
// AddMember and UpdateBatch on its twin, and compares what each answered
// and left.
func moveMatchesGeneric(t *testing.T, ctx context.Context, s storage.Store, c moveCase) {
	mv, ok := moverOf(t, ctx, s)
	if !ok {
		return
	}
	q := UniqueID("q")
	seedMove(t, ctx, s, q, "generic", c)
	seedMove(t, ctx, s, q, "moved", c)
	next := func(id string) (storage.Member, storage.Batch) {
		return storage.Member{Queue: q, State: "to", BatchID: id, Version: c.expectedVersion + 1, AddedAt: ts(7)},
			storage.Batch{Queue: q, ID: id, State: "to", Payload: []byte("new"), CreatedAt: ts(0), UpdatedAt: ts(7)}
	}
	m, b := next("generic")
	var got storage.Batch
	err := s.AddMember(ctx, m)
	if err == nil {
		got, err = s.UpdateBatch(ctx, b, c.expectedVersion, c.expectedState)
	}
	want := outcome(t, ctx, s, q, "generic", got, err)
	m, b = next("moved")
	got, err = mv.MoveBatch(ctx, m, b, c.expectedVersion, c.expectedState)
	require.Equal(t, want, outcome(t, ctx, s, q, "moved", got, err),
		"MoveBatch answers and writes what AddMember and then UpdateBatch do (err %v)", err)
}

// moveOneWinner races moves of one batch out of one version into two
// states: exactly one wins, and the batch is stored in its state.
func moveOneWinner(t *testing.T, ctx context.Context, s storage.Store) {
	mv, ok := moverOf(t, ctx, s)
	if !ok {
		return
	}
	for range 5 {
		b := createBatch(t, ctx, s, "b", "from")
		q := b.Queue
		to := []string{"to", "other", "to"}
		errs := make([]error, len(to))
		var wg sync.WaitGroup
		for i, st := range to {
			wg.Go(func() {
				next := b
				next.State = st
				_, errs[i] = mv.MoveBatch(ctx, storage.Member{Queue: q, State: st, BatchID: "b", Version: 2}, next, 1, "from")
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, won, "two moves out of version 1 both won")
				won = i
				continue
			}
			require.ErrorIs(t, err, storage.ErrConflict, "a losing move is ErrConflict")
		}
		require.NotEqual(t, -1, won, "no move won")
		stored, err := s.GetBatch(ctx, q, "b")
		require.NoError(t, err)
		require.Equal(t, to[won], stored.State)
		require.Equal(t, int64(2), stored.Version)
	}
}

// moveBadInput checks that a row that is not the batch's new row, and a
// bad expected version or state, are ErrInvalid and write nothing.
func moveBadInput(t *testing.T, ctx context.Context, s storage.Store) {
	mv, ok := moverOf(t, ctx, s)
	if !ok {
		return
	}
	b := createBatch(t, ctx, s, "b", "from")
	q := b.Queue
	next := b
	next.State = "to"
	row := storage.Member{Queue: q, State: "to", BatchID: "b", Version: 2}
	for name, call := range map[string]func() error{
		"row of another state": func() error {
			_, err := mv.MoveBatch(ctx, storage.Member{Queue: q, State: "from", BatchID: "b", Version: 2}, next, 1, "from")
			return err
		},
		"row of another batch": func() error {
			_, err := mv.MoveBatch(ctx, storage.Member{Queue: q, State: "to", BatchID: "c", Version: 2}, next, 1, "from")
			return err
		},
		"version 0":      func() error { _, err := mv.MoveBatch(ctx, row, next, 0, "from"); return err },
		"empty state":    func() error { _, err := mv.MoveBatch(ctx, row, next, 1, ""); return err },
		"row version -1": func() error { r := row; r.Version = -1; _, err := mv.MoveBatch(ctx, r, next, 1, "from"); return err },
	} {
		require.ErrorIs(t, call(), storage.ErrInvalid, name)
	}
	stored, err := s.GetBatch(ctx, q, "b")
	require.NoError(t, err)
	require.Equal(t, int64(1), stored.Version, "bad input wrote the batch")
	for _, st := range []string{"from", "to"} {
		rows, err := s.ListMembers(ctx, q, st)
		require.NoError(t, err)
		require.Empty(t, rows, "bad input wrote a row")
	}
}
