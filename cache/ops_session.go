package cache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/service"
)

// OpsSessionStore keeps console sessions in Redis under "ops:sess:" and the
// SHA-256 of the cookie value, a key space of its own: a mini-program
// session token ("sess:") never resolves here and a console cookie never
// resolves there. The idle timeout is checked against the injected clock;
// the Redis TTL only collects abandoned sessions.
type OpsSessionStore struct {
	rdb   *redis.Client
	clock service.Clock
	idle  time.Duration
	max   time.Duration
}

// NewOpsSessionStore returns a store whose sessions end after idle without
// use, and after 12 hours in any case.
func NewOpsSessionStore(rdb *redis.Client, clock service.Clock, idle time.Duration) *OpsSessionStore {
	return &OpsSessionStore{rdb: rdb, clock: clock, idle: idle, max: 12 * time.Hour}
}

func opsKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return "ops:sess:" + hex.EncodeToString(h[:])
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Create starts a session for operator and returns its cookie value.
func (s *OpsSessionStore) Create(ctx context.Context, operator string) (string, *service.OpsSession, error) {
	token, err := randomToken()
	if err != nil {
		return "", nil, err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", nil, err
	}
	now := s.clock.Now().UTC()
	sess := &service.OpsSession{Operator: operator, CSRF: csrf, Created: now, LastSeen: now}
	if err := s.save(ctx, token, sess); err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

func (s *OpsSessionStore) save(ctx context.Context, token string, sess *service.OpsSession) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	// The Redis TTL is generous (wall clock and injected clock may differ);
	// expiry is decided in Touch.
	if err := s.rdb.Set(ctx, opsKey(token), b, s.idle+time.Hour).Err(); err != nil {
		return fmt.Errorf("ops session: %w", err)
	}
	return nil
}

// Touch returns the live session of token and records this use; an
// unknown, idle or too old session is deleted and reported as
// service.ErrNotFound.
func (s *OpsSessionStore) Touch(ctx context.Context, token string) (*service.OpsSession, error) {
	if token == "" || len(token) > 100 {
		return nil, service.ErrNotFound
	}
	b, err := s.rdb.Get(ctx, opsKey(token)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, service.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("ops session: %w", err)
	}
	var sess service.OpsSession
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, fmt.Errorf("ops session: %w", err)
	}
	now := s.clock.Now().UTC()
	if now.Sub(sess.LastSeen) > s.idle || now.Sub(sess.Created) > s.max {
		s.rdb.Del(ctx, opsKey(token))
		return nil, service.ErrNotFound
	}
	sess.LastSeen = now
	return &sess, s.save(ctx, token, &sess)
}

// Delete ends a session (sign-out).
func (s *OpsSessionStore) Delete(ctx context.Context, token string) error {
	return s.rdb.Del(ctx, opsKey(token)).Err()
}
