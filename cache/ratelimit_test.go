package cache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/service"
)

// TestRateLimiterOneCommand: each event is one Redis command (the counting
// script); the window's key gets its expiry with the first event and keeps
// it; past the limit the answer says how long until the window ends.
func TestRateLimiterOneCommand(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	var cmds []string
	rdb.AddHook(cmdRecorder{&cmds})
	clock := service.NewManualClock(time.Date(2026, 12, 1, 8, 0, 20, 0, time.UTC))
	rl := cache.NewRateLimiter(rdb, clock)
	key := "rl:quote:user:7:" + strconv.FormatInt(clock.Now().Truncate(time.Minute).Unix(), 10)

	// Load the script once, then count the commands of each event.
	if ok, _, err := rl.Allow(ctx, "quote:user:7", 2, time.Minute); err != nil || !ok {
		t.Fatalf("first event: ok=%v err=%v", ok, err)
	}
	if ttl := mr.TTL(key); ttl != 2*time.Minute {
		t.Fatalf("after the first event the key's TTL is %s, want 2m (window + 1m)", ttl)
	}
	mr.FastForward(30 * time.Second)
	clock.Advance(30 * time.Second)
	cmds = nil
	ok, _, err := rl.Allow(ctx, "quote:user:7", 2, time.Minute)
	if err != nil || !ok {
		t.Fatalf("second event: ok=%v err=%v", ok, err)
	}
	if len(cmds) != 1 {
		t.Errorf("one event cost %d Redis round trips %q, want 1", len(cmds), cmds)
	}
	if ttl := mr.TTL(key); ttl != 90*time.Second {
		t.Errorf("after the second event the TTL is %s, want 1m30s (set once, not extended)", ttl)
	}
	ok, retry, err := rl.Allow(ctx, "quote:user:7", 2, time.Minute)
	if err != nil || ok || retry != 10*time.Second {
		t.Fatalf("third event: ok=%v retry=%s err=%v, want refused with 10s to the window's end", ok, retry, err)
	}
	if n, err := rl.Count(ctx, "quote:user:7", time.Minute); err != nil || n != 3 {
		t.Fatalf("count %d %v, want 3", n, err)
	}
	// The next window starts afresh.
	clock.Advance(10 * time.Second)
	if ok, _, err := rl.Allow(ctx, "quote:user:7", 2, time.Minute); err != nil || !ok {
		t.Fatalf("next window: ok=%v err=%v", ok, err)
	}
}

// cmdRecorder records the commands and pipelines a client sends.
type cmdRecorder struct{ cmds *[]string }

func (cmdRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h cmdRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		*h.cmds = append(*h.cmds, cmd.Name())
		return next(ctx, cmd)
	}
}
func (h cmdRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		*h.cmds = append(*h.cmds, "pipeline")
		return next(ctx, cmds)
	}
}
