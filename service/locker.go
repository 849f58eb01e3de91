package service

import (
	"context"
	"time"
)

// Locker takes short leases on keys (Redis SET NX PX with a random token,
// released by compare-and-delete). It is a fast path that keeps several
// instances from doing the same thing at once (querying one batch, sending
// one refund call); the database state — status-conditioned updates and
// outbox leases — stays the truth. cache.Locker implements it.
type Locker interface {
	// TryLock takes key for ttl; ok is false when someone else holds it.
	TryLock(ctx context.Context, key string, ttl time.Duration) (token string, ok bool, err error)
	// Unlock releases key if token still holds it, so a holder whose lease
	// expired never frees the next holder's.
	Unlock(ctx context.Context, key, token string) error
}

// acquire takes key through l and returns the function that releases it,
// even after ctx is cancelled. ok is false when someone else holds key.
func acquire(ctx context.Context, l Locker, key string, ttl time.Duration) (release func(), ok bool, err error) {
	token, ok, err := l.TryLock(ctx, key, ttl)
	if err != nil || !ok {
		return nil, ok, err
	}
	return func() { _ = l.Unlock(context.WithoutCancel(ctx), key, token) }, true, nil
}
