package service

import (
	"context"
	"errors"
	"time"
)

// IdempotencyStore keeps the first reply of a request made with an
// Idempotency-Key (Stripe's rules): a key is locked while its first request
// runs, then holds the reply for at least a day. cache.IdempotencyStore
// implements it on Redis. If Redis is lost, UNIQUE(quote_id) still keeps
// one order per quote.
type IdempotencyStore interface {
	// Begin locks key for lockTTL and returns a token, or returns the saved
	// reply of a finished request with the same fingerprint. It returns
	// ErrIdempotencyInProgress while another request with key runs, and
	// ErrIdempotencyMismatch when key was used with another fingerprint.
	Begin(ctx context.Context, key, fingerprint string, lockTTL time.Duration) (saved *SavedResponse, token string, err error)
	// Save stores the reply under key for ttl if token still holds the lock.
	Save(ctx context.Context, key, token string, r SavedResponse, ttl time.Duration) error
	// Release drops the lock without saving (nothing happened; safe to retry).
	Release(ctx context.Context, key, token string) error
}

// SavedResponse is a stored reply.
type SavedResponse struct {
	Fingerprint string `json:"fp"`
	Status      int    `json:"status"`
	ContentType string `json:"ct"`
	Body        []byte `json:"body"`
	// Resume names the order the request made (create-order only): a retry
	// resumes it instead of replaying Body.
	Resume string `json:"resume,omitempty"`
}

// Idempotency errors.
var (
	ErrIdempotencyInProgress = errors.New("idempotency key in use by a running request")
	ErrIdempotencyMismatch   = errors.New("idempotency key reused with different parameters")
)
