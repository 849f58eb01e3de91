package platform

import (
	"context"
	"sync"
	"time"

	"github.com/shebao/sipay/service"
)

// NonceStore remembers keys for a while. The callback verifier uses it to
// refuse replayed nonces and, as a fast path, to skip events it has already
// handled. cache.SeenStore implements it on Redis. It is never the source of truth for money: the event sink is
// idempotent on its own.
type NonceStore interface {
	// Remember records key for ttl. fresh is false when key was already
	// recorded and has not expired.
	Remember(ctx context.Context, key string, ttl time.Duration) (fresh bool, err error)
	// Seen reports whether key is recorded and has not expired, without
	// recording it.
	Seen(ctx context.Context, key string) (bool, error)
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
