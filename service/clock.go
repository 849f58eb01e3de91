package service

import (
	"sync"
	"time"
)

// Clock gives the current time. Every rule that depends on time (72-hour
// retry deadline, 24-hour hold, expiries, retention) reads it from a Clock so
// tests and the demo can drive time.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// OffsetClock is the wall clock shifted by an adjustable offset. The built-in
// simulator mode uses it so a demo can move time forward by 72 hours while
// everything keeps running. The zero value is the wall clock.
type OffsetClock struct {
	mu     sync.RWMutex
	offset time.Duration
}

// Now returns the wall time plus the offset.
func (c *OffsetClock) Now() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d and returns the new offset.
func (c *OffsetClock) Advance(d time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	return c.offset
}

// ManualClock stands still until told to move. Tests use it.
type ManualClock struct {
	mu sync.RWMutex
	t  time.Time
}

// NewManualClock returns a ManualClock set to t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set sets the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
