package storagetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
	"github.com/statefold/statefold/storagetest"
)

// brokenEnv selects the deliberately broken store TestBrokenStoreHelper runs
// the suite on, in a child process.
const brokenEnv = "STATEFOLD_BROKEN_STORE"

// ignoresVersion applies every update whatever version the caller expects.
type ignoresVersion struct{ *memory.Store }

func (s ignoresVersion) UpdateBatch(ctx context.Context, b storage.Batch, _ int64, expectedState string) (storage.Batch, error) {
	cur, err := s.Store.GetBatch(ctx, b.Queue, b.ID)
	if err != nil {
		return storage.Batch{}, err
	}
	return s.Store.UpdateBatch(ctx, b, cur.Version, expectedState)
}

func (s ignoresVersion) UpdateApply(ctx context.Context, a storage.Apply, _ int64) (storage.Apply, error) {
	cur, err := s.Store.GetApply(ctx, a.ID)
	if err != nil {
		return storage.Apply{}, err
	}
	return s.Store.UpdateApply(ctx, a, cur.Version)
}

// ignoresState applies a batch update whatever state the caller expects, as
// long as the version matches (the contract before the state condition).
type ignoresState struct{ *memory.Store }

func (s ignoresState) UpdateBatch(ctx context.Context, b storage.Batch, expectedVersion int64, _ string) (storage.Batch, error) {
	cur, err := s.Store.GetBatch(ctx, b.Queue, b.ID)
	if err != nil {
		return storage.Batch{}, err
	}
	return s.Store.UpdateBatch(ctx, b, expectedVersion, cur.State)
}

// lowerSilent reports success for a lower-version AddMember that changed
// nothing (the contract before AddMember reported ErrConflict).
type lowerSilent struct{ *memory.Store }

func (s lowerSilent) AddMember(ctx context.Context, m storage.Member) error {
	if err := s.Store.AddMember(ctx, m); err != nil && !errors.Is(err, storage.ErrConflict) {
		return err
	}
	return nil
}

// lowerOverwrites lets a lower-version AddMember replace the row.
type lowerOverwrites struct{ *memory.Store }

func (s lowerOverwrites) AddMember(ctx context.Context, m storage.Member) error {
	if err := s.Store.RemoveMember(ctx, m.Queue, m.State, m.BatchID, 1<<62); err != nil {
		return err
	}
	return s.Store.AddMember(ctx, m)
}

// foldsCase compares batch ids case-insensitively, as a utf8mb4 collation
// would.
type foldsCase struct{ *memory.Store }

func (s foldsCase) CreateBatch(ctx context.Context, b storage.Batch) (storage.Batch, error) {
	b.ID = strings.ToLower(b.ID)
	return s.Store.CreateBatch(ctx, b)
}

func (s foldsCase) GetBatch(ctx context.Context, queue, id string) (storage.Batch, error) {
	return s.Store.GetBatch(ctx, queue, strings.ToLower(id))
}

func broken(kind string) storage.Store {
	switch kind {
	case "ignores-version":
		return ignoresVersion{memory.New()}
	case "ignores-state":
		return ignoresState{memory.New()}
	case "lower-overwrites":
		return lowerOverwrites{memory.New()}
	case "lower-silent":
		return lowerSilent{memory.New()}
	case "folds-case":
		return foldsCase{memory.New()}
	}
	return memory.New()
}

// TestBrokenStoreHelper runs the suite on the store named by
// STATEFOLD_BROKEN_STORE. It is the child half of
// TestSuiteCatchesBrokenStores and does nothing on its own.
func TestBrokenStoreHelper(t *testing.T) {
	kind := os.Getenv(brokenEnv)
	if kind == "" {
		return
	}
	storagetest.Run(t, func(*testing.T) storage.Store { return broken(kind) })
}

// storeAreas selects the store-contract areas of the child run: the
// orchestration areas test batchstate and applystate on top of the store and
// are not what a broken store wrapper is about.
const storeAreas = "^TestBrokenStoreHelper$/^(CRUD|CAS|Membership|Keys|Validation|RoundTrip)$"

// The suite must fail against stores that break the contract: each broken
// store is run through Run in a child test process, which must fail in the
// area that covers the broken rule, while the unbroken store passes.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	for kind, area := range map[string]string{
		"ignores-version":  "CAS",
		"ignores-state":    "CAS",
		"lower-overwrites": "Membership",
		"lower-silent":     "Membership",
		"folds-case":       "Keys",
		"none":             "",
	} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run="+storeAreas, "-test.v", "-test.short", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+kind)
			out, err := cmd.CombinedOutput()
			if area == "" {
				require.NoError(t, err, "the unbroken store passes:\n%s", out)
				for _, a := range []string{"CRUD", "CAS", "Membership", "Keys", "Validation", "RoundTrip"} {
					require.Contains(t, string(out), "--- PASS: TestBrokenStoreHelper/"+a+" ", "area %s ran and passed", a)
				}
				return
			}
			require.Error(t, err, "the suite must fail on a store that %s", kind)
			require.Contains(t, string(out), "--- FAIL: TestBrokenStoreHelper/"+area+"/", "the %s area catches it", area)
		})
	}
}
