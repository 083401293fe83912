package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/statefold/statefold/storage"
)

// moving is a driver with the Mover capability; it records what reached
// it. Any Store method reached panics (its Driver is nil).
type moving struct {
	storage.Driver
	calls int
	m     storage.Member
	b     storage.Batch
}

func (d *moving) MoveBatch(_ context.Context, m storage.Member, b storage.Batch, version int64, _ string) (storage.Batch, error) {
	d.calls++
	d.m, d.b = m, b
	b.Version = version + 1
	return b, nil
}

func TestCheckedForwardsMoveBatchAfterItsChecks(t *testing.T) {
	ctx := context.Background()
	d := &moving{}
	mv, ok := storage.Checked(d).(storage.Mover)
	if !ok {
		t.Fatal("Checked must offer Mover")
	}
	local := time.Date(2031, 7, 8, 9, 10, 11, 123456789, time.FixedZone("UTC+5", 5*3600))
	row := storage.Member{Queue: "q", State: "to", BatchID: "b", Version: 3, AddedAt: local}
	next := storage.Batch{Queue: "q", ID: "b", State: "to", UpdatedAt: local, Payload: []byte{}}
	got, err := mv.MoveBatch(ctx, row, next, 2, "from")
	if err != nil || got.Version != 3 || d.calls != 1 {
		t.Fatalf("MoveBatch: %+v, %v (%d calls)", got, err, d.calls)
	}
	if d.m.AddedAt.Location() != time.UTC || d.m.AddedAt.Nanosecond()%1000 != 0 || d.b.UpdatedAt.Location() != time.UTC || d.b.Payload != nil {
		t.Errorf("the driver got input not normalized: %+v, %+v", d.m, d.b)
	}
	for field, call := range map[string]func() error{
		"m":               func() error { r := row; r.State = "from"; _, err := mv.MoveBatch(ctx, r, next, 2, "from"); return err },
		"expectedVersion": func() error { _, err := mv.MoveBatch(ctx, row, next, 0, "from"); return err },
		"expectedState":   func() error { _, err := mv.MoveBatch(ctx, row, next, 2, ""); return err },
		"member.Version":  func() error { r := row; r.Version = 0; _, err := mv.MoveBatch(ctx, r, next, 2, "from"); return err },
	} {
		var fe *storage.FieldError
		if err := call(); !errors.As(err, &fe) || fe.Field != field || !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("bad %s: want a FieldError on it, got %v", field, err)
		}
	}
	if d.calls != 1 {
		t.Errorf("bad input reached the driver: %d calls, want 1", d.calls)
	}
	_, err = storage.Checked(&spy{}).(storage.Mover).MoveBatch(ctx, row, next, 2, "from")
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("MoveBatch over a driver without it: want errors.ErrUnsupported, got %v", err)
	}
}
