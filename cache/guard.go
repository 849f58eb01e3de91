package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Guard implements service.CallGuard: a short exclusive key (SET NX PX with
// a random token) released by compare-and-delete, so a holder whose key
// expired never deletes someone else's. It is a fast path only; the
// database state guards money.
type Guard struct{ rdb redis.UniversalClient }

// NewGuard returns a Guard.
func NewGuard(rdb redis.UniversalClient) *Guard { return &Guard{rdb: rdb} }

var releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// Acquire takes key for ttl; ok is false when another caller holds it.
func (g *Guard) Acquire(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	b := make([]byte, 16)
	rand.Read(b)
	token := hex.EncodeToString(b)
	k := "guard:" + key
	ok, err := g.rdb.SetNX(ctx, k, token, ttl).Result()
	if err != nil {
		return nil, false, fmt.Errorf("guard %s: %w", key, err)
	}
	if !ok {
		return nil, false, nil
	}
	return func() { releaseScript.Run(context.WithoutCancel(ctx), g.rdb, []string{k}, token) }, true, nil
}
