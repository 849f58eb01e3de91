package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/service"
)

// TestOpenConfigPicksTheDeployment: REDIS_ADDRS with one address is a plain
// client, with several (no master name) a Cluster client that routes by
// slot; the stores work through either.
func TestOpenConfigPicksTheDeployment(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	for _, c := range []struct {
		name    string
		cfg     cache.Config
		cluster bool
	}{
		{"single", cache.Config{Addrs: []string{mr.Addr()}}, false},
		{"cluster", cache.Config{Addrs: []string{mr.Addr(), mr.Addr()}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			rdb, stop, err := cache.OpenConfig(ctx, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			if _, ok := rdb.(*redis.ClusterClient); ok != c.cluster {
				t.Fatalf("client %T, want cluster=%v", rdb, c.cluster)
			}
			clock := service.NewManualClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
			rl := cache.NewRateLimiter(rdb, clock)
			for i := 1; i <= 3; i++ {
				ok, _, err := rl.Allow(ctx, "universal-"+c.name, 2, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if want := i <= 2; ok != want {
					t.Fatalf("attempt %d allowed=%v, want %v", i, ok, want)
				}
			}
			release, ok, err := guard{cache.NewLocker(rdb)}.Acquire(ctx, "universal-guard-"+c.name, time.Minute)
			if err != nil || !ok {
				t.Fatalf("guard: ok=%v err=%v", ok, err)
			}
			release()
		})
	}
	if _, _, err := cache.OpenConfig(ctx, cache.Config{Addrs: []string{"127.0.0.1:1"}, MasterName: "mymaster"}); err == nil {
		t.Fatal("a Sentinel setup with no sentinel reachable connected")
	}
}
