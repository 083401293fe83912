package storage_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/statefold/statefold/storage"
)

// spy is a driver that records GetBatches and CreateBatch; any other
// method reached panics (its embedded Driver is nil), so a check that let
// bad input through fails the test.
type spy struct {
	storage.Driver
	ids     []string
	created storage.Batch
}

func (s *spy) GetBatches(_ context.Context, _ string, ids []string) ([]storage.Batch, error) {
	s.ids = ids
	return nil, nil
}

func (s *spy) CreateBatch(_ context.Context, b storage.Batch) (storage.Batch, error) {
	s.created = b
	return b, nil
}

func TestCheckedRejectsBadInputWithoutCallingTheDriver(t *testing.T) {
	ctx := context.Background()
	s := storage.Checked(&spy{})
	long := strings.Repeat("k", storage.MaxKeyBytes+1)
	calls := map[string]func() error{
		"queue": func() error { _, err := s.GetBatch(ctx, "", "id"); return err },
		"ids[1]": func() error {
			_, err := s.GetBatches(ctx, "q", []string{"a", long})
			return err
		},
		"expectedVersion": func() error {
			_, err := s.UpdateBatch(ctx, storage.Batch{Queue: "q", ID: "i", State: "s"}, 0, "s")
			return err
		},
		"member.Version": func() error { return s.AddMember(ctx, storage.Member{Queue: "q", State: "s", BatchID: "b"}) },
		"maxVersion":     func() error { return s.RemoveMember(ctx, "q", "s", "b", -1) },
		"state":          func() error { _, err := s.ListMembers(ctx, "q", ""); return err },
		"apply.State":    func() error { _, err := s.CreateApply(ctx, storage.Apply{ID: "a"}); return err },
		"id":             func() error { _, err := s.GetApply(ctx, long); return err },
		"apply.ErrorMessage": func() error {
			_, err := s.UpdateApply(ctx, storage.Apply{ID: "a", State: "s", ErrorMessage: "\xff"}, 1)
			return err
		},
		"operation.StartedAt": func() error {
			_, err := s.CreateOperation(ctx, storage.Operation{ApplyID: "a", ID: "o", State: "s", StartedAt: storage.MaxTime.Add(time.Second)})
			return err
		},
		"applyID": func() error { _, err := s.GetOperation(ctx, "", "o"); return err },
		"operation.OwnerToken": func() error {
			_, err := s.UpdateOperation(ctx, storage.Operation{ApplyID: "a", ID: "o", State: "s", OwnerToken: -1}, 1)
			return err
		},
	}
	for field, call := range calls {
		t.Run(field, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("the driver was called with bad input: %v", r)
				}
			}()
			err := call()
			var fe *storage.FieldError
			if !errors.Is(err, storage.ErrInvalid) || !errors.As(err, &fe) || fe.Field != field {
				t.Fatalf("got %v, want ErrInvalid naming %s", err, field)
			}
		})
	}
}

func TestCheckedHandsTheDriverNormalizedInput(t *testing.T) {
	ctx := context.Background()
	d := &spy{}
	s := storage.Checked(d)
	if _, err := s.GetBatches(ctx, "q", []string{"b", "a", "b", "a", "c"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.ids, []string{"b", "a", "c"}) {
		t.Fatalf("driver got ids %q, want each once in first order", d.ids)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("x", 3600))
	payload := []byte("p")
	if _, err := s.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "i", State: "s", Payload: payload, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	payload[0] = 'x'
	if got := d.created; got.CreatedAt != storage.NormalizeTime(at) || string(got.Payload) != "p" {
		t.Fatalf("driver got %+v, want a UTC microsecond time and its own payload", got)
	}
}
