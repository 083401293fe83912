package explore

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// Clock is a fake clock for tests, safe for concurrent use: every reading
// is step after the previous one, so timestamps taken from it are distinct
// and increasing, and Advance jumps it forward. The suite's own tests and
// the packages' tests use it; pass its Now as a clock option.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// NewClock returns a Clock whose first reading is start+step.
func NewClock(start time.Time, step time.Duration) *Clock {
	return &Clock{now: start, step: step}
}

// Now returns the next reading: step after the previous one.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// UniqueID returns prefix, a dash and 12 random hex digits: a queue, apply
// or table name that no other test or run uses.
func UniqueID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return prefix + "-" + hex.EncodeToString(b[:])
}

// newTestClock is the suite's clock: 1 ms per reading from a fixed date.
func newTestClock() *Clock {
	return NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), time.Millisecond)
}
