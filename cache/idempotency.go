package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/service"
)

// IdempotencyStore implements service.IdempotencyStore. A key holds either
// "running:<nonce>:<fingerprint>" (the lock, whose exact value is the
// token) or "done:<json SavedResponse>".
type IdempotencyStore struct{ rdb redis.UniversalClient }

// NewIdempotencyStore returns an IdempotencyStore.
func NewIdempotencyStore(rdb redis.UniversalClient) *IdempotencyStore {
	return &IdempotencyStore{rdb: rdb}
}

func idemKey(key string) string { return "idem:" + key }

// saveScript replaces the lock with the reply only if the caller still holds it.
var saveScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3]) return 1 else return 0 end`)

// Begin takes the lock or reports the state of key.
func (s *IdempotencyStore) Begin(ctx context.Context, key, fingerprint string, lockTTL time.Duration) (*service.SavedResponse, string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return nil, "", err
	}
	token := "running:" + hex.EncodeToString(b) + ":" + fingerprint
	for attempt := 0; attempt < 3; attempt++ {
		ok, err := s.rdb.SetNX(ctx, idemKey(key), token, lockTTL).Result()
		if err != nil {
			return nil, "", fmt.Errorf("idempotency begin: %w", err)
		}
		if ok {
			return nil, token, nil
		}
		val, err := s.rdb.Get(ctx, idemKey(key)).Result()
		if errors.Is(err, redis.Nil) {
			continue // expired between the two calls
		}
		if err != nil {
			return nil, "", fmt.Errorf("idempotency begin: %w", err)
		}
		if rest, ok := strings.CutPrefix(val, "running:"); ok {
			_, fp, _ := strings.Cut(rest, ":")
			if fp != fingerprint {
				return nil, "", service.ErrIdempotencyMismatch
			}
			return nil, "", service.ErrIdempotencyInProgress
		}
		var saved service.SavedResponse
		if err := json.Unmarshal([]byte(strings.TrimPrefix(val, "done:")), &saved); err != nil {
			return nil, "", fmt.Errorf("idempotency begin: stored reply: %w", err)
		}
		if saved.Fingerprint != fingerprint {
			return nil, "", service.ErrIdempotencyMismatch
		}
		return &saved, "", nil
	}
	return nil, "", service.ErrIdempotencyInProgress
}

// Save stores the reply if token still holds the lock.
func (s *IdempotencyStore) Save(ctx context.Context, key, token string, r service.SavedResponse, ttl time.Duration) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	n, err := saveScript.Run(ctx, s.rdb, []string{idemKey(key)}, token, "done:"+string(b), ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("idempotency save: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("idempotency save: lock of %q lost", key)
	}
	return nil
}

// Release drops the lock if token still holds it.
func (s *IdempotencyStore) Release(ctx context.Context, key, token string) error {
	if err := unlockScript.Run(ctx, s.rdb, []string{idemKey(key)}, token).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("idempotency release: %w", err)
	}
	return nil
}
