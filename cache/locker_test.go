package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/cache"
)

func TestLockerIsExclusiveUntilReleasedAndNeverFreesAnotherHolder(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	g := guard{cache.NewLocker(rdb)}
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

// guard takes and releases a lease the way a caller does: the release holds
// the token it was given.
type guard struct{ l *cache.Locker }

func (g guard) Acquire(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	token, ok, err := g.l.TryLock(ctx, key, ttl)
	if err != nil || !ok {
		return nil, ok, err
	}
	return func() { g.l.Unlock(ctx, key, token) }, true, nil
}
