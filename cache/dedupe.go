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

// Locker takes short leases with SET NX PX. It implements service.Locker.
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

// EventDedupe remembers processed notification event ids. It is only the
// fast path that spares the database work for WeChat's repeats; the database
// (status-conditioned update, UNIQUE(event_id), UNIQUE(transaction_id)) is
// what makes a repeat harmless.
type EventDedupe struct {
	rdb redis.UniversalClient
	ttl time.Duration
}

// NewEventDedupe returns an EventDedupe keeping ids for ttl (WeChat retries
// for about 24 h; 48 h is a good value).
func NewEventDedupe(rdb redis.UniversalClient, ttl time.Duration) *EventDedupe {
	return &EventDedupe{rdb: rdb, ttl: ttl}
}

func eventKey(id string) string { return "wxevent:" + id }

// Seen reports whether the event id was marked processed.
func (d *EventDedupe) Seen(ctx context.Context, eventID string) (bool, error) {
	n, err := d.rdb.Exists(ctx, eventKey(eventID)).Result()
	if err != nil {
		return false, fmt.Errorf("dedupe seen: %w", err)
	}
	return n == 1, nil
}

// Mark records the event id as processed.
func (d *EventDedupe) Mark(ctx context.Context, eventID string) error {
	if err := d.rdb.Set(ctx, eventKey(eventID), "1", d.ttl).Err(); err != nil {
		return fmt.Errorf("dedupe mark: %w", err)
	}
	return nil
}
