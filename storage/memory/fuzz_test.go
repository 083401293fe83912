package memory_test

import (
	"context"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/memory"
)

// FuzzKeyRoundTrip stores a batch and a membership row under random keys
// and reads them back byte for byte; a second key that differs is never
// confused with the first. Invalid keys must be ErrInvalid and write
// nothing.
func FuzzKeyRoundTrip(f *testing.F) {
	for _, s := range [][3]string{{"q", "s", "b"}, {"Q", "a#b", "c"}, {"q ", "a", "b#c"}, {"\x00", "é", "e\u0301"}, {"", "s", "b"}, {"q", "\xff", "b"}} {
		f.Add(s[0], s[1], s[2], "other")
	}
	f.Fuzz(func(t *testing.T, queue, state, id, other string) {
		ctx := context.Background()
		s := memory.New()
		valid := func(k string) bool { return k != "" && len(k) <= storage.MaxKeyBytes && utf8.ValidString(k) }
		b := storage.Batch{Queue: queue, ID: id, State: state, Payload: []byte(id)}
		_, err := s.CreateBatch(ctx, b)
		if !valid(queue) || !valid(id) || !valid(state) {
			if !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("invalid keys (%q, %q, %q): %v, want ErrInvalid", queue, state, id, err)
			}
			m := storage.Member{Queue: queue, State: state, BatchID: id, Version: 1}
			if err := s.AddMember(ctx, m); !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("AddMember with invalid keys (%q, %q, %q): %v, want ErrInvalid", queue, state, id, err)
			}
			if valid(queue) && valid(id) {
				if _, err := s.GetBatch(ctx, queue, id); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("a rejected create of (%q, %q) wrote a row: %v", queue, id, err)
				}
			}
			if valid(queue) && valid(state) {
				if rows, err := s.ListMembers(ctx, queue, state); err != nil || len(rows) != 0 {
					t.Fatalf("a rejected AddMember wrote %+v: %v", rows, err)
				}
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetBatch(ctx, queue, id)
		if err != nil || got.ID != id || got.Queue != queue || got.State != state || string(got.Payload) != id {
			t.Fatalf("round trip of (%q, %q): %+v, %v", queue, id, got, err)
		}
		if err := s.AddMember(ctx, storage.Member{Queue: queue, State: state, BatchID: id, Version: 1}); err != nil {
			t.Fatal(err)
		}
		rows, err := s.ListMembers(ctx, queue, state)
		if err != nil || len(rows) != 1 || rows[0].BatchID != id || rows[0].State != state {
			t.Fatalf("membership round trip: %+v, %v", rows, err)
		}
		if valid(other) && other != id {
			if _, err := s.GetBatch(ctx, queue, other); err == nil {
				t.Fatalf("%q and %q collide", id, other)
			}
		}
		if valid(other) && other != state {
			if rows, _ := s.ListMembers(ctx, queue, other); len(rows) != 0 {
				t.Fatalf("state %q lists %q's rows", other, state)
			}
		}
	})
}
