// Package custombackend shows how to write a statefold backend of your own
// and prove it with the shared contract suite.
//
// The backend here, [Store], keeps every table in one generic versioned map
// behind a single mutex: the smallest thing that satisfies storage.Store.
// A real backend would talk to your database; the shape is the same:
//
//   - validate every input with the storage.Validate* helpers before writing,
//     so bad input is storage.ErrInvalid and nothing is written;
//   - normalize what you store with the storage.Normalize* helpers (UTC,
//     microseconds, empty payload = nil) and copy slices in and out;
//   - create fails with storage.ErrAlreadyExists, a get of a missing key with
//     storage.ErrNotFound, an update with the wrong version (or, for a batch,
//     the wrong expected state) with storage.ErrConflict and an update of a
//     missing row with ErrNotFound; an AddMember below the stored version
//     changes nothing and is storage.ErrConflict;
//   - compare keys byte for byte;
//   - store every field, the optional ones a release adds included (an
//     operation's Owner, OwnerToken, OwnerUntil and ReleasedAt): rows your
//     backend wrote before a field existed must read it as zero, so add
//     columns with a zero default, or treat a missing attribute as zero.
//
// Then run the suite from a test (see store_test.go): a harness gives it a
// store per subtest and a Close for what the harness holds, and options
// scale it for a slow remote store:
//
//	func TestContract(t *testing.T) {
//		storagetest.RunHarness(t, &harness{}, storagetest.WithScale(0.2))
//	}
package custombackend
