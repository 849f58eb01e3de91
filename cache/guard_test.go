package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/cache"
)

func TestGuardIsExclusiveUntilReleasedAndNeverFreesAnotherHolder(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	g := cache.NewGuard(rdb)
	ctx := context.Background()
	release, ok, err := g.Acquire(ctx, "refund:call:RF1", 30*time.Second)
	if err != nil || !ok {
		t.Fatalf("first acquire: got %v, %v; want ok", ok, err)
	}
	if _, ok, _ := g.Acquire(ctx, "refund:call:RF1", 30*time.Second); ok {
		t.Fatalf("second acquire while held: got ok, want refused")
	}
	mr.FastForward(31 * time.Second) // the first holder's key expired
	release2, ok, _ := g.Acquire(ctx, "refund:call:RF1", 30*time.Second)
	if !ok {
		t.Fatalf("acquire after expiry: refused, want ok")
	}
	release() // the stale holder must not free the new one
	if _, ok, _ := g.Acquire(ctx, "refund:call:RF1", 30*time.Second); ok {
		t.Fatalf("acquire after a stale release: got ok, want refused")
	}
	release2()
	if _, ok, _ := g.Acquire(ctx, "refund:call:RF1", 30*time.Second); !ok {
		t.Fatalf("acquire after release: refused, want ok")
	}
}
