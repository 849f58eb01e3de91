package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// SeenStore remembers keys for a while: the notification event ids already
// processed (api.NotifyDeduper) and the provincial callback nonces and event
// ids (platform.NonceStore). It is only a fast path that spares repeated
// work; the database (status-conditioned updates, UNIQUE event and
// transaction ids, an idempotent event sink) is what makes a repeat
// harmless.
type SeenStore struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// NewSeenStore returns a SeenStore that puts prefix before every key and
// keeps a Mark for ttl (WeChat retries a notification for about 24 h; 48 h
// is a good value).
func NewSeenStore(rdb redis.UniversalClient, prefix string, ttl time.Duration) *SeenStore {
	return &SeenStore{rdb: rdb, prefix: prefix, ttl: ttl}
}

// Remember records key for ttl (SET NX). fresh is false when key was
// already recorded and has not expired.
func (s *SeenStore) Remember(ctx context.Context, key string, ttl time.Duration) (fresh bool, err error) {
	ok, err := s.rdb.SetNX(ctx, s.prefix+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("seen store: remember: %w", err)
	}
	return ok, nil
}

// Seen reports whether key is recorded and has not expired, without
// recording it.
func (s *SeenStore) Seen(ctx context.Context, key string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.prefix+key).Result()
	if err != nil {
		return false, fmt.Errorf("seen store: exists: %w", err)
	}
	return n > 0, nil
}

// Mark records key for the store's ttl.
func (s *SeenStore) Mark(ctx context.Context, key string) error {
	_, err := s.Remember(ctx, key, s.ttl)
	return err
}
