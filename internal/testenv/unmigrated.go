package testenv

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/statefold/statefold/storage"
)

// FirstCallsAskForMigrate calls every method of s, a store over tables
// that do not exist, and checks that each fails with an error matching
// storage.ErrSchema that names Migrate, that is neither
// storage.ErrUnavailable nor storage.ErrAmbiguous (the server answered:
// nothing was written), and in which native finds the server's own error.
func FirstCallsAskForMigrate(t *testing.T, s storage.Store, native func(error) bool) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	b := storage.Batch{Queue: "q", ID: "b", State: "open", CreatedAt: now, UpdatedAt: now}
	a := storage.Apply{ID: "a", State: "pending", CreatedAt: now, UpdatedAt: now}
	op := storage.Operation{ApplyID: "a", ID: "op", Seq: 1, State: "pending", CreatedAt: now, UpdatedAt: now}
	calls := map[string]func() error{
		"CreateBatch": func() error { _, err := s.CreateBatch(ctx, b); return err },
		"GetBatch":    func() error { _, err := s.GetBatch(ctx, "q", "b"); return err },
		"GetBatches":  func() error { _, err := s.GetBatches(ctx, "q", []string{"b"}); return err },
		"UpdateBatch": func() error { _, err := s.UpdateBatch(ctx, b, 1, "open"); return err },
		"AddMember": func() error {
			return s.AddMember(ctx, storage.Member{Queue: "q", State: "open", BatchID: "b", Version: 1, AddedAt: now})
		},
		"RemoveMember":    func() error { return s.RemoveMember(ctx, "q", "open", "b", 1) },
		"ListMembers":     func() error { _, err := s.ListMembers(ctx, "q", "open"); return err },
		"CreateApply":     func() error { _, err := s.CreateApply(ctx, a); return err },
		"GetApply":        func() error { _, err := s.GetApply(ctx, "a"); return err },
		"UpdateApply":     func() error { _, err := s.UpdateApply(ctx, a, 1); return err },
		"CreateOperation": func() error { _, err := s.CreateOperation(ctx, op); return err },
		"GetOperation":    func() error { _, err := s.GetOperation(ctx, "a", "op"); return err },
		"ListOperations":  func() error { _, err := s.ListOperations(ctx, "a"); return err },
		"UpdateOperation": func() error { _, err := s.UpdateOperation(ctx, op, 1); return err },
	}
	for name, call := range calls {
		err := call()
		switch {
		case !errors.Is(err, storage.ErrSchema):
			t.Errorf("%s on missing tables: %v, want storage.ErrSchema", name, err)
		case errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrAmbiguous):
			t.Errorf("%s on missing tables: %v, want neither unavailable nor ambiguous", name, err)
		case !strings.Contains(err.Error(), "Migrate"):
			t.Errorf("%s on missing tables: %q does not name Migrate", name, err)
		case !native(err):
			t.Errorf("%s on missing tables: %v, the server's error is not reachable", name, err)
		}
	}
}
