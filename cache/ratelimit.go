package cache

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/service"
)

// RateLimiter counts events in fixed windows aligned to the injected clock.
type RateLimiter struct {
	rdb   redis.UniversalClient
	clock service.Clock
}

// NewRateLimiter returns a RateLimiter.
func NewRateLimiter(rdb redis.UniversalClient, clock service.Clock) *RateLimiter {
	return &RateLimiter{rdb: rdb, clock: clock}
}

// incrScript counts one event and gives a new window's key its expiry, in
// one command (one round trip, atomic: a key never lives without a TTL).
var incrScript = redis.NewScript(`local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return n`)

// Allow counts one event for key in the current window and reports whether
// it is within limit; when not, it returns how long until the window ends.
func (l *RateLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	w := windowOf(key, l.clock.Now(), window)
	n, err := incrScript.Run(ctx, l.rdb, []string{w.key}, w.ttlMillis()).Int64()
	if err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	ok, retry := w.verdict(n, limit)
	return ok, retry, nil
}

// window is the fixed window of a key at now: its Redis key
// "rl:<key>:<window start, unix seconds>".
type window struct {
	key        string
	now, start time.Time
	length     time.Duration
}

func windowOf(key string, now time.Time, length time.Duration) window {
	start := now.Truncate(length)
	return window{key: "rl:" + key + ":" + strconv.FormatInt(start.Unix(), 10), now: now, start: start, length: length}
}

// ttlMillis is the expiry a new window's key gets: the window and a minute.
func (w window) ttlMillis() int64 { return (w.length + time.Minute).Milliseconds() }

// verdict reports whether the n-th event of the window is within limit,
// and otherwise how long until the window ends.
func (w window) verdict(n int64, limit int) (bool, time.Duration) {
	if n > int64(limit) {
		return false, w.start.Add(w.length).Sub(w.now)
	}
	return true, 0
}

// Count returns the count of key in the current window without adding one.
func (l *RateLimiter) Count(ctx context.Context, key string, window time.Duration) (int, error) {
	n, err := l.rdb.Get(ctx, windowOf(key, l.clock.Now(), window).key).Int()
	if err == redis.Nil {
		return 0, nil
	}
	return n, err
}
