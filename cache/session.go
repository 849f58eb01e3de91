package cache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/service"
)

// SessionStore keeps opaque login tokens. Only a hash of the token is used
// as the key, so a Redis dump does not reveal usable tokens.
type SessionStore struct {
	rdb   redis.UniversalClient
	clock service.Clock
}

// NewSessionStore returns a SessionStore.
func NewSessionStore(rdb redis.UniversalClient, clock service.Clock) *SessionStore {
	return &SessionStore{rdb: rdb, clock: clock}
}

func sessionKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return "sess:" + hex.EncodeToString(h[:])
}

// CreateSession stores a new random token for userID until expiresAt. The
// session remembers the user's session generation: RevokeUserSessions bumps
// it and every older session stops working.
func (s *SessionStore) CreateSession(ctx context.Context, userID int64, expiresAt time.Time) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	ttl := expiresAt.Sub(s.clock.Now())
	if ttl <= 0 {
		return "", fmt.Errorf("create session: expiry in the past")
	}
	gen, err := s.generation(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	val := strconv.FormatInt(userID, 10) + "|" + strconv.FormatInt(expiresAt.Unix(), 10) + "|" + strconv.FormatInt(gen, 10)
	if err := s.rdb.Set(ctx, sessionKey(token), val, ttl).Err(); err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return token, nil
}

func generationKey(userID int64) string { return "sessgen:" + strconv.FormatInt(userID, 10) }

// generation is the user's current session generation (0 until the first
// RevokeUserSessions).
func (s *SessionStore) generation(ctx context.Context, userID int64) (int64, error) {
	n, err := s.rdb.Get(ctx, generationKey(userID)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// FindSession returns the user of a live token, or ErrNotFound. Expiry is
// checked against the injected clock as well as by the Redis TTL, and a
// session of an older generation (revoked) is not found.
func (s *SessionStore) FindSession(ctx context.Context, token string) (int64, time.Time, error) {
	val, err := s.rdb.Get(ctx, sessionKey(token)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, time.Time{}, service.ErrNotFound
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("find session: %w", err)
	}
	parts := strings.Split(val, "|")
	if len(parts) < 2 {
		return 0, time.Time{}, service.ErrNotFound
	}
	id, err1 := strconv.ParseInt(parts[0], 10, 64)
	unix, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, time.Time{}, service.ErrNotFound
	}
	var gen int64
	if len(parts) > 2 {
		if gen, err = strconv.ParseInt(parts[2], 10, 64); err != nil {
			return 0, time.Time{}, service.ErrNotFound
		}
	}
	expiresAt := time.Unix(unix, 0)
	if !s.clock.Now().Before(expiresAt) {
		return 0, time.Time{}, service.ErrNotFound
	}
	cur, err := s.generation(ctx, id)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("find session: %w", err)
	}
	if gen < cur {
		return 0, time.Time{}, service.ErrNotFound
	}
	return id, expiresAt, nil
}

// RevokeUserSessions ends every session of userID issued so far.
func (s *SessionStore) RevokeUserSessions(ctx context.Context, userID int64) error {
	return s.rdb.Incr(ctx, generationKey(userID)).Err()
}

// DeleteSession removes a token (logout).
func (s *SessionStore) DeleteSession(ctx context.Context, token string) error {
	return s.rdb.Del(ctx, sessionKey(token)).Err()
}
