package batchstate

import (
	"slices"
	"strings"
	"time"

	"github.com/statefold/statefold/storage"
)

// MaxIndexNameBytes is the longest name [WithIndex] accepts.
const MaxIndexNameBytes = 32

// MaxIndexKeyBytes is the longest key an index function may return.
const MaxIndexKeyBytes = 200

// MaxIndexKeys is the most keys an index function may return for one batch.
const MaxIndexKeys = 64

// MaxFinishedRange is the longest interval [Orchestrator.ListFinished]
// reads in one call.
const MaxFinishedRange = 366 * 24 * time.Hour

// reserved prefixes every bucket the orchestrator keeps beside the state
// buckets; Machine.Validate rejects states that start with it, so no
// bucket of an index is ever a state's.
const reserved = "\x00statefold:"

// The buckets of the indexes, in the membership store, per queue:
//
//	reserved+"key:"+name+":"+key   one row per batch with that key
//	reserved+"mark:"+name          one row per key whose rows changed (row id = key)
//	reserved+"done:"+YYYY-MM-DD    one row per batch finished that UTC day
//
// Index names hold no ':', so a key bucket names one (name, key) pair.
const (
	keyPrefix  = reserved + "key:"
	markPrefix = reserved + "mark:"
	donePrefix = reserved + "done:"
	dayLayout  = "2006-01-02"
)

// index is one index declared with WithIndex.
type index struct {
	name string
	keys func(storage.Batch) []string
}

// keyBucket is the bucket of the rows of key in index name.
func keyBucket(name, key string) string { return keyPrefix + name + ":" + key }

// markBucket is the bucket of the marks of index name.
func markBucket(name string) string { return markPrefix + name }

// doneBucket is the bucket of the batches finished on t's UTC day.
func doneBucket(t time.Time) string { return donePrefix + t.UTC().Format(dayLayout) }

// checkIndexName reports why name cannot name an index, if it cannot.
func checkIndexName(name string) error {
	switch {
	case name == "" || len(name) > MaxIndexNameBytes:
		return storage.Invalid("WithIndex", "index name %q is not 1 to %d bytes", name, MaxIndexNameBytes)
	case strings.ContainsFunc(name, func(r rune) bool { return !nameRune(r) }):
		return storage.Invalid("WithIndex", "index name %q may hold only ASCII letters, digits, '-', '_' and '.'", name)
	}
	return nil
}

func nameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
}

// checkKey reports why key cannot be a key of index name, if it cannot.
func checkKey(name, key string) error {
	if err := storage.ValidateKey("key", key); err != nil {
		return storage.Invalid("index "+name, "key %q: %v", key, unwrapReason(err))
	}
	if len(key) > MaxIndexKeyBytes {
		return storage.Invalid("index "+name, "key of %d bytes exceeds %d", len(key), MaxIndexKeyBytes)
	}
	return nil
}

// keySet is the keys of a batch per index, each sorted and deduplicated.
type keySet map[string][]string

// deriveKeys returns the keys of b in every index; a batch in a state
// that is not a machine's (a tombstone) has none. A key an index function
// returns that is not a valid key is an error matching storage.ErrInvalid.
func deriveKeys(m Machine, idx []index, b storage.Batch) (keySet, error) {
	ks := make(keySet, len(idx))
	if !m.Known(b.State) {
		return ks, nil
	}
	for _, ix := range idx {
		keys := slices.Clone(ix.keys(b))
		if len(keys) > MaxIndexKeys {
			return nil, storage.Invalid("index "+ix.name, "%d keys exceed %d", len(keys), MaxIndexKeys)
		}
		for _, k := range keys {
			if err := checkKey(ix.name, k); err != nil {
				return nil, err
			}
		}
		slices.Sort(keys)
		ks[ix.name] = slices.Compact(keys)
	}
	return ks, nil
}

// has reports whether k is one of the keys of index name.
func (ks keySet) has(name, k string) bool {
	_, ok := slices.BinarySearch(ks[name], k)
	return ok
}

// keyRef names one key of one index.
type keyRef struct{ index, key string }

// minus returns the keys of ks not in other, in index order.
func (ks keySet) minus(idx []index, other keySet) []keyRef {
	var out []keyRef
	for _, ix := range idx {
		for _, k := range ks[ix.name] {
			if !other.has(ix.name, k) {
				out = append(out, keyRef{ix.name, k})
			}
		}
	}
	return out
}

// keyRows returns the rows that file batch id of queue under keys, at
// version, added at now.
func keyRows(queue, id string, keys []keyRef, version int64, now time.Time) []storage.Member {
	var out []storage.Member
	for _, k := range keys {
		out = append(out, storage.Member{Queue: queue, State: keyBucket(k.index, k.key), BatchID: id, Version: version, AddedAt: now})
	}
	return out
}

// markRows returns the marks that send Reconcile to the buckets of keys:
// one per key, its version the time in microseconds, so that a mark added
// after Reconcile read it survives Reconcile's removal.
func markRows(queue string, keys []keyRef, now time.Time) []storage.Member {
	var out []storage.Member
	for _, k := range keys {
		out = append(out, storage.Member{Queue: queue, State: markBucket(k.index), BatchID: k.key, Version: max(now.UnixMicro(), 1), AddedAt: now})
	}
	return out
}

// finished reports whether b is a batch the machine finished: in one of
// its terminal states (a tombstone is not).
func finished(m Machine, b storage.Batch) bool { return m.IsTerminal(b.State) }

// doneRow is the completion row of b, finished at b.UpdatedAt.
func doneRow(b storage.Batch, version int64) storage.Member {
	return storage.Member{Queue: b.Queue, State: doneBucket(b.UpdatedAt), BatchID: b.ID, Version: version, AddedAt: b.UpdatedAt}
}

// keyPlan is what a write of a batch adds to the indexes besides its state
// row: marks, key rows and the completion row before the batch write, and
// the key rows it removes after.
type keyPlan struct {
	// before lists the rows to add before the batch write, in order: the
	// marks first, so that every key row that may turn stale is marked.
	before []storage.Member
	// drop lists the keys whose rows to remove after the batch write.
	drop []keyRef
}

// planKeys decides what a write of next at version adds and removes in the
// indexes; prev is the batch as the writer read it, nil for a Create, and
// done says whether finished batches are filed by day.
func planKeys(m Machine, idx []index, done bool, prev *storage.Batch, next storage.Batch, version int64, now time.Time) (keyPlan, error) {
	var p keyPlan
	nextKeys, err := deriveKeys(m, idx, next)
	if err != nil {
		return p, err
	}
	prevKeys := keySet{}
	if prev != nil {
		if prevKeys, err = deriveKeys(m, idx, *prev); err != nil {
			return p, err
		}
	}
	added, dropped := nextKeys.minus(idx, prevKeys), prevKeys.minus(idx, nextKeys)
	p.before = append(markRows(next.Queue, append(slices.Clip(added), dropped...), now),
		keyRows(next.Queue, next.ID, added, version, now)...)
	if done && finished(m, next) {
		p.before = append(p.before, doneRow(next, version))
	}
	p.drop = dropped
	return p, nil
}

// isMark reports whether r is a mark: a row whose refusal (a newer mark)
// is no failure.
func isMark(r storage.Member) bool { return strings.HasPrefix(r.State, markPrefix) }

// removal is a row of one batch to remove, up to maxVersion.
type removal struct {
	state      string
	maxVersion int64
}

// lostRows decides, from the batch cur read after a transition from prev
// to next lost its compare-and-swap, which rows the transition added no
// reader needs: key rows of keys cur does not have and a completion row
// cur does not justify — only once cur is at or past the rows' version,
// so a newer write's row survives (maxVersion cur.Version).
func lostRows(m Machine, idx []index, prev, next, cur storage.Batch) []removal {
	version := prev.Version + 1
	if cur.Version < version {
		return nil // the rows are ahead of the batch: Reconcile decides
	}
	var out []removal
	if finished(m, next) && !(finished(m, cur) && doneBucket(cur.UpdatedAt) == doneBucket(next.UpdatedAt)) {
		out = append(out, removal{doneBucket(next.UpdatedAt), cur.Version})
	}
	prevKeys, perr := deriveKeys(m, idx, prev)
	nextKeys, nerr := deriveKeys(m, idx, next)
	curKeys, cerr := deriveKeys(m, idx, cur)
	if perr != nil || nerr != nil || cerr != nil {
		return out
	}
	for _, k := range nextKeys.minus(idx, prevKeys) {
		if !curKeys.has(k.index, k.key) {
			out = append(out, removal{keyBucket(k.index, k.key), cur.Version})
		}
	}
	return out
}
