package storagetest

import (
	"testing"
)

// Option configures [Run].
type Option func(*runConfig)

type runConfig struct {
	exploration Exploration
	model       ModelCheck
	churnLists  int
	scale       float64
}

func newRunConfig(opts []Option) runConfig {
	c := runConfig{exploration: DefaultExploration(), model: DefaultModelCheck(), churnLists: 2000, scale: 1}
	if testing.Testing() && testing.Short() {
		c.churnLists = 200
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithExploration sets how far the Interleavings area of [Run] explores
// (default [DefaultExploration]).
func WithExploration(x Exploration) Option {
	return func(c *runConfig) { c.exploration = x }
}

// WithScale scales the rounds and sizes of the repeated parts of [Run] —
// the compare-and-swap races, the concurrency and churn tests — by f
// (default 1): below 1 for a slow remote store, above 1 for a deeper run.
// Every part still runs at least once; values not above 0 mean 1. The
// exploration has its own bound ([WithExploration]); [WithChurnLists]
// given after WithScale sets the churn exactly.
func WithScale(f float64) Option {
	return func(c *runConfig) {
		if f <= 0 {
			f = 1
		}
		c.scale = f
		c.churnLists = max(1, int(float64(c.churnLists)*f))
	}
}

// n scales a round count or size by the configured scale, at least 1.
func (c runConfig) n(base int) int { return max(1, int(float64(base)*c.scale+0.5)) }

// WithChurnLists sets how many Lists the churn test of the Orchestration
// area makes while workers move batches and a janitor reconciles (default
// 2,000; 200 under -short). Each List must return every batch.
func WithChurnLists(n int) Option {
	return func(c *runConfig) { c.churnLists = n }
}

// WithModelCheck sets how far the ModelCheck area of [Run] checks (default
// [DefaultModelCheck]).
func WithModelCheck(m ModelCheck) Option {
	return func(c *runConfig) { c.model = m }
}
