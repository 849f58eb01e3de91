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
	now := l.clock.Now()
	start := now.Truncate(window)
	k := "rl:" + key + ":" + strconv.FormatInt(start.Unix(), 10)
	n, err := incrScript.Run(ctx, l.rdb, []string{k}, (window + time.Minute).Milliseconds()).Int64()
	if err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	if n > int64(limit) {
		return false, start.Add(window).Sub(now), nil
	}
	return true, 0, nil
}

// Count returns the count of key in the current window without adding one.
func (l *RateLimiter) Count(ctx context.Context, key string, window time.Duration) (int, error) {
	start := l.clock.Now().Truncate(window)
	n, err := l.rdb.Get(ctx, "rl:"+key+":"+strconv.FormatInt(start.Unix(), 10)).Int()
	if err == redis.Nil {
		return 0, nil
	}
	return n, err
}
