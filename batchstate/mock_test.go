package batchstate_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/statefold/statefold/batchstate"
	"github.com/statefold/statefold/internal/storagemock"
	"github.com/statefold/statefold/storage"
)

// mocked is an orchestrator over gomock stores: any call not expected fails
// the test, so these tests pin the exact writes and their order.
type mocked struct {
	batches *storagemock.MockBatchStore
	members *storagemock.MockMembershipStore
	o       *batchstate.Orchestrator
	now     time.Time
	log     *bytes.Buffer
}

func newMocked(t *testing.T) *mocked {
	t.Helper()
	ctrl := gomock.NewController(t)
	m := &mocked{
		batches: storagemock.NewMockBatchStore(ctrl),
		members: storagemock.NewMockMembershipStore(ctrl),
		// Not UTC and below the microsecond: the orchestrator normalizes.
		now: time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600)),
		log: &bytes.Buffer{},
	}
	var err error
	m.o, err = batchstate.New(m.batches, m.members, mq,
		batchstate.WithClock(func() time.Time { return m.now }),
		batchstate.WithLogger(slog.New(slog.NewTextHandler(m.log, nil))))
	require.NoError(t, err)
	return m
}

func (m *mocked) stamp() time.Time { return m.now.UTC().Truncate(time.Microsecond) }

func TestMockCreateOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newMocked(t)
	in := storage.Batch{Queue: "q", ID: "x", State: "created", Payload: []byte("p")}
	want := in
	want.CreatedAt, want.UpdatedAt = m.stamp(), m.stamp()
	stored := want
	stored.Version = 1
	gomock.InOrder(
		m.members.EXPECT().AddMember(ctx, storage.Member{Queue: "q", State: "created", BatchID: "x", Version: 1, AddedAt: m.stamp()}).Return(nil),
		m.batches.EXPECT().CreateBatch(ctx, want).Return(stored, nil),
	)
	got, err := m.o.Create(ctx, in)
	require.NoError(t, err)
	require.Equal(t, stored, got)
}

func TestMockCreateAddFailureCreatesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newMocked(t)
	m.members.EXPECT().AddMember(ctx, gomock.Any()).Return(errInjected)
	// No CreateBatch is expected: calling it fails the test.
	_, err := m.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "created"})
	require.ErrorIs(t, err, errInjected)
}

func TestMockCreateBatchFailureKeepsRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, fail := range []error{errInjected, fmt.Errorf("create: %w", storage.ErrAlreadyExists)} {
		m := newMocked(t)
		gomock.InOrder(
			m.members.EXPECT().AddMember(ctx, gomock.Any()).Return(nil),
			m.batches.EXPECT().CreateBatch(ctx, gomock.Any()).Return(storage.Batch{}, fail),
		)
		// No RemoveMember is expected: the row is kept.
		_, err := m.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "created"})
		require.ErrorIs(t, err, fail)
	}
}

func TestMockCreateTerminalWritesNoRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newMocked(t)
	m.batches.EXPECT().CreateBatch(ctx, gomock.Any()).Return(storage.Batch{Queue: "q", ID: "x", State: "cancelled", Version: 1}, nil)
	_, err := m.o.Create(ctx, storage.Batch{Queue: "q", ID: "x", State: "cancelled"})
	require.NoError(t, err)
}

func TestMockTransitionOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newMocked(t)
	b := storage.Batch{Queue: "q", ID: "x", State: "created", Version: 4, Payload: []byte("new payload")}
	next := b
	next.State, next.UpdatedAt = "speculating", m.stamp()
	stored := next
	stored.Version = 5
	gomock.InOrder(
		m.members.EXPECT().AddMember(ctx, storage.Member{Queue: "q", State: "speculating", BatchID: "x", Version: 5, AddedAt: m.stamp()}).Return(nil),
		m.batches.EXPECT().UpdateBatch(ctx, next, int64(4), "created").Return(stored, nil),
		// No RemoveMember: the row of the state left stays until Reconcile,
		// for a List that may need it.
	)
	got, err := m.o.Transition(ctx, b, "speculating")
	require.NoError(t, err)
	require.Equal(t, stored, got)
	require.Empty(t, m.log.String())
}

func TestMockTransitionAddFailureNoCAS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newMocked(t)
	b := storage.Batch{Queue: "q", ID: "x", State: "created", Version: 1}
	m.members.EXPECT().AddMember(ctx, gomock.Any()).Return(errInjected)
	got, err := m.o.Transition(ctx, b, "speculating")
	require.ErrorIs(t, err, errInjected)
	require.Equal(t, b, got)
}

func TestMockTransitionLostCASReturnsOriginal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newMocked(t)
	b := storage.Batch{Queue: "q", ID: "x", State: "created", Version: 1, Payload: []byte("p")}
	gomock.InOrder(
		m.members.EXPECT().AddMember(ctx, gomock.Any()).Return(nil),
		m.batches.EXPECT().UpdateBatch(ctx, gomock.Any(), int64(1), "created").Return(storage.Batch{}, fmt.Errorf("mock: %w", storage.ErrConflict)),
		m.batches.EXPECT().GetBatch(ctx, "q", "x").Return(storage.Batch{Queue: "q", ID: "x", State: "speculating", Version: 2}, nil),
	)
	// No RemoveMember: the batch is live, so the added row stays, the old one too.
	got, err := m.o.Transition(ctx, b, "speculating")
	require.ErrorIs(t, err, storage.ErrConflict)
	require.Equal(t, b, got)
}

func TestMockTransitionRemovalFailureIsLogged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newMocked(t)
	b := storage.Batch{Queue: "q", ID: "x", State: "merging", Version: 3}
	stored := b
	stored.State, stored.Version = "succeeded", 4
	gomock.InOrder(
		// Into a terminal state: no row is added.
		m.batches.EXPECT().UpdateBatch(ctx, gomock.Any(), int64(3), "merging").Return(stored, nil),
		// Terminal: the rows of the state left are removed, whatever their version.
		m.members.EXPECT().RemoveMember(ctx, "q", "merging", "x", int64(math.MaxInt64)).Return(errInjected),
	)
	got, err := m.o.Transition(ctx, b, "succeeded")
	require.NoError(t, err, "the removal is best-effort")
	require.Equal(t, stored, got)
	require.Contains(t, m.log.String(), "level=WARN")
	require.Contains(t, m.log.String(), "injected")
	require.Contains(t, m.log.String(), "state=merging")
}

// List resolves all candidates with one GetBatches call however many there
// are (chunking is the backend's business), removes the rows of terminal
// batches with the batch's version, and never the rows of missing batches.
func TestMockListOneGetBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newMocked(t)
	var created, spec []storage.Member
	var stored []storage.Batch
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 130 {
		id := fmt.Sprintf("b%03d", i)
		created = append(created, storage.Member{Queue: "q", State: "created", BatchID: id, Version: 1})
		if i%10 == 9 {
			continue // missing: an in-flight create
		}
		st := "created"
		switch i % 10 {
		case 3:
			st = "speculating"
			spec = append(spec, storage.Member{Queue: "q", State: "speculating", BatchID: id, Version: 2})
		case 5:
			st = "failed"
		}
		stored = append(stored, storage.Batch{Queue: "q", ID: id, State: st, Version: 7, CreatedAt: base.Add(time.Duration(130-i) * time.Second)})
	}
	m.batches.EXPECT().GetBatch(ctx, "q", batchstate.LeaseID).Return(storage.Batch{}, storage.ErrNotFound)
	m.members.EXPECT().ListMembers(gomock.Any(), "q", "created").Return(created, nil)
	m.members.EXPECT().ListMembers(gomock.Any(), "q", "speculating").Return(spec, nil)
	m.batches.EXPECT().GetBatches(ctx, "q", gomock.Any()).DoAndReturn(func(_ context.Context, _ string, ids []string) ([]storage.Batch, error) {
		require.Len(t, ids, 131, "every candidate, each once, and the lease, in one call")
		require.Equal(t, batchstate.LeaseID, ids[130])
		return stored, nil
	})
	for i := 5; i < 130; i += 10 {
		m.members.EXPECT().RemoveMember(ctx, "q", "created", fmt.Sprintf("b%03d", i), int64(math.MaxInt64)).Return(nil)
	}
	got, err := m.o.List(ctx, "q", "created", "speculating")
	require.NoError(t, err)
	require.Len(t, got, 130-13-13)
	require.True(t, slices.IsSortedFunc(got, func(a, b storage.Batch) int { return a.CreatedAt.Compare(b.CreatedAt) }))
	require.Equal(t, "b128", got[0].ID, "the latest index created first")
}

func TestMockListReadErrorWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newMocked(t)
	m.batches.EXPECT().GetBatch(ctx, "q", batchstate.LeaseID).Return(storage.Batch{}, storage.ErrNotFound).Times(2)
	m.members.EXPECT().ListMembers(gomock.Any(), "q", "created").Return([]storage.Member{{Queue: "q", State: "created", BatchID: "x", Version: 1}}, nil)
	m.members.EXPECT().ListMembers(gomock.Any(), "q", "merging").Return(nil, errInjected)
	_, err := m.o.List(ctx, "q", "created", "merging")
	require.ErrorIs(t, err, errInjected)
	require.ErrorContains(t, err, `"merging"`)

	m.members.EXPECT().ListMembers(gomock.Any(), "q", "created").Return([]storage.Member{{Queue: "q", State: "created", BatchID: "x", Version: 1}}, nil)
	m.batches.EXPECT().GetBatches(ctx, "q", []string{"x", batchstate.LeaseID}).Return(nil, errInjected)
	_, err = m.o.List(ctx, "q", "created")
	require.ErrorIs(t, err, errInjected)
}
