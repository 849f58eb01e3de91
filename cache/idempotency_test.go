package cache_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/service"
)

// testRedis returns a client on TEST_REDIS_ADDR (DB 15), or on an
// in-process Redis when it is unset. Keys carry a per-run prefix (see
// uniq) instead of flushing a database other tests may share.
func testRedis(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	addr, db := os.Getenv("TEST_REDIS_ADDR"), 15
	if addr == "" {
		addr, db = miniredis.RunT(tb).Addr(), 0
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	tb.Cleanup(func() {
		// Remove this run's keys, so a repeated test (-count=N) starts clean.
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, "*test:"+run+":*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb
}

var run = strconv.FormatInt(time.Now().UnixNano(), 36)

func uniq(k string) string { return "test:" + run + ":" + k }

func TestIdempotencyStore(t *testing.T) {
	ctx := context.Background()
	s := cache.NewIdempotencyStore(testRedis(t))

	saved, token, err := s.Begin(ctx, uniq("1:k"), "fp-a", time.Minute)
	if err != nil || saved != nil || token == "" {
		t.Fatalf("first Begin: saved=%v token=%q err=%v, want the lock", saved, token, err)
	}
	if _, _, err := s.Begin(ctx, uniq("1:k"), "fp-a", time.Minute); !errors.Is(err, service.ErrIdempotencyInProgress) {
		t.Fatalf("while running: err=%v, want ErrIdempotencyInProgress", err)
	}
	if _, _, err := s.Begin(ctx, uniq("1:k"), "fp-b", time.Minute); !errors.Is(err, service.ErrIdempotencyMismatch) {
		t.Fatalf("other body while running: err=%v, want ErrIdempotencyMismatch", err)
	}
	if err := s.Save(ctx, uniq("1:k"), "running:forged:fp-a", service.SavedResponse{Status: 201}, time.Hour); err == nil {
		t.Fatalf("Save with a foreign token succeeded")
	}
	want := service.SavedResponse{Fingerprint: "fp-a", Status: 201, ContentType: "application/json", Body: []byte(`{"order_no":"SI1"}`)}
	if err := s.Save(ctx, uniq("1:k"), token, want, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Begin(ctx, uniq("1:k"), "fp-a", time.Minute)
	if err != nil || got == nil || got.Status != 201 || string(got.Body) != string(want.Body) {
		t.Fatalf("replay=%+v err=%v, want %+v", got, err, want)
	}
	if _, _, err := s.Begin(ctx, uniq("1:k"), "fp-b", time.Minute); !errors.Is(err, service.ErrIdempotencyMismatch) {
		t.Fatalf("other body after finish: err=%v, want ErrIdempotencyMismatch", err)
	}

	// Release frees the key for a retry.
	_, token2, _ := s.Begin(ctx, uniq("1:k2"), "fp", time.Minute)
	if err := s.Release(ctx, uniq("1:k2"), token2); err != nil {
		t.Fatal(err)
	}
	if _, tok, err := s.Begin(ctx, uniq("1:k2"), "fp", time.Minute); err != nil || tok == "" {
		t.Fatalf("after release: token=%q err=%v, want the lock again", tok, err)
	}
}

func TestLockerUnlockOnlyByHolder(t *testing.T) {
	ctx := context.Background()
	l := cache.NewLocker(testRedis(t))
	tok, ok, err := l.TryLock(ctx, uniq("lease:x"), time.Minute)
	if err != nil || !ok {
		t.Fatalf("TryLock: ok=%v err=%v", ok, err)
	}
	if _, ok, _ := l.TryLock(ctx, uniq("lease:x"), time.Minute); ok {
		t.Fatalf("second TryLock succeeded while held")
	}
	l.Unlock(ctx, uniq("lease:x"), "not-the-token")
	if _, ok, _ := l.TryLock(ctx, uniq("lease:x"), time.Minute); ok {
		t.Fatalf("a foreign Unlock released the lease")
	}
	l.Unlock(ctx, uniq("lease:x"), tok)
	if _, ok, _ := l.TryLock(ctx, uniq("lease:x"), time.Minute); !ok {
		t.Fatalf("lease not free after the holder's Unlock")
	}
}
