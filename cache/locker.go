package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// unlockScript deletes a key only when it still holds the caller's token, so
// a lease that expired and was taken by someone else is never released by
// the previous holder.
var unlockScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)

// Locker takes short leases with SET NX PX and a random token, released by
// compare-and-delete. It implements service.Locker: the payment poller's
// per-batch lease and the refund call guard. It is a fast path only; the
// database state guards money.
type Locker struct{ rdb redis.UniversalClient }

// NewLocker returns a Locker.
func NewLocker(rdb redis.UniversalClient) *Locker { return &Locker{rdb: rdb} }

// TryLock takes key for ttl and returns the token that releases it.
func (l *Locker) TryLock(ctx context.Context, key string, ttl time.Duration) (string, bool, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", false, err
	}
	token := hex.EncodeToString(b)
	ok, err := l.rdb.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return "", false, fmt.Errorf("lock %s: %w", key, err)
	}
	return token, ok, nil
}

// Unlock releases key if token still holds it.
func (l *Locker) Unlock(ctx context.Context, key, token string) error {
	if err := unlockScript.Run(ctx, l.rdb, []string{key}, token).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("unlock %s: %w", key, err)
	}
	return nil
}
