package platform

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/service"
)

// NonceStore remembers keys for a while. The callback verifier uses it to
// refuse replayed nonces and, as a fast path, to skip events it has already
// handled. It is never the source of truth for money: the event sink is
// idempotent on its own.
type NonceStore interface {
	// Remember records key for ttl. fresh is false when key was already
	// recorded and has not expired.
	Remember(ctx context.Context, key string, ttl time.Duration) (fresh bool, err error)
	// Seen reports whether key is recorded and has not expired, without
	// recording it.
	Seen(ctx context.Context, key string) (bool, error)
}

// RedisNonceStore is a NonceStore on Redis: SET NX with a TTL.
type RedisNonceStore struct {
	Client redis.Cmdable
	// Prefix is put before every key; "si:" when empty.
	Prefix string
}

func (s *RedisNonceStore) key(k string) string {
	if s.Prefix == "" {
		return "si:" + k
	}
	return s.Prefix + k
}

// Remember implements NonceStore.
func (s *RedisNonceStore) Remember(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if s.Client == nil {
		return false, errors.New("redis nonce store: no client")
	}
	ok, err := s.Client.SetNX(ctx, s.key(key), 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redis nonce store: set nx: %w", err)
	}
	return ok, nil
}

// Seen implements NonceStore.
func (s *RedisNonceStore) Seen(ctx context.Context, key string) (bool, error) {
	if s.Client == nil {
		return false, errors.New("redis nonce store: no client")
	}
	n, err := s.Client.Exists(ctx, s.key(key)).Result()
	if err != nil {
		return false, fmt.Errorf("redis nonce store: exists: %w", err)
	}
	return n > 0, nil
}

// MemoryNonceStore is an in-process NonceStore whose expiry follows a
// service.Clock. It suits tests and a single-process demo.
type MemoryNonceStore struct {
	Clock service.Clock

	mu   sync.Mutex
	keys map[string]time.Time // key → expiry
}

// NewMemoryNonceStore returns an empty store on clock.
func NewMemoryNonceStore(clock service.Clock) *MemoryNonceStore {
	return &MemoryNonceStore{Clock: clock, keys: map[string]time.Time{}}
}

// Remember implements NonceStore.
func (s *MemoryNonceStore) Remember(_ context.Context, key string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Clock.Now()
	if s.keys == nil {
		s.keys = map[string]time.Time{}
	}
	if exp, ok := s.keys[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(s.keys) > 4096 {
		for k, exp := range s.keys {
			if !now.Before(exp) {
				delete(s.keys, k)
			}
		}
	}
	s.keys[key] = now.Add(ttl)
	return true, nil
}

// Seen implements NonceStore.
func (s *MemoryNonceStore) Seen(_ context.Context, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.keys[key]
	return ok && s.Clock.Now().Before(exp), nil
}
