// Package custombackend shows how to write a statefold backend of your own
// and prove it with the shared contract suite.
//
// The backend here, [Store], keeps every table in one generic versioned map
// behind a single mutex, a [DB] it reaches only through a driver layer,
// [Conn]: the smallest thing that satisfies storage.Store. A real backend
// would talk to your database through its client; the shape is the same:
//
//   - implement storage.Driver and return it wrapped by storage.Checked
//     (see [Open]): the portable layer checks every input (bad input is
//     storage.ErrInvalid naming the field, and your driver is not called,
//     so nothing is written) and hands your driver normalized values (UTC,
//     microseconds, an empty payload as nil, each GetBatches id once);
//     copy slices your driver keeps in and out;
//   - create fails with storage.ErrAlreadyExists, a get of a missing key with
//     storage.ErrNotFound, an update with the wrong version (or, for a batch,
//     the wrong expected state) with storage.ErrConflict and an update of a
//     missing row with ErrNotFound; an AddMember below the stored version
//     changes nothing and is storage.ErrConflict;
//   - compare keys byte for byte;
//   - classify every failure below the store (see Store's do): a
//     connection that failed before sending, or a server error that rolled
//     the request back, is storage.ErrUnavailable alone; one that failed
//     after a write was sent is storage.ErrAmbiguous and ErrUnavailable; the
//     caller's context ending is the context's error, with ErrAmbiguous for
//     a write that may have been sent;
//   - store every field, the optional ones a release adds included (an
//     operation's Owner, OwnerToken, OwnerUntil, ReleasedAt and
//     ProjectedVersion): rows your
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
//
// and the classification matrix (see classification_test.go): a Go wrapper
// of the Conn fails, loses or holds the next request, and every store
// method's answer and row are checked against the documented ones:
//
//	func TestClassification(t *testing.T) {
//		storagetest.RunClassification(t, "custombackend", &classificationHarness{...})
//	}
package custombackend
