package service

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// UserLimit is a per-user rate limit of one route: Limit events per Window.
type UserLimit struct {
	Route  string
	Limit  int
	Window time.Duration
}

// UserLimitKey is the rate-limit key of userID on route, as RateLimiter.Allow
// takes it. The braces are a Redis Cluster hash tag: every key of one user
// (sessions, session generation, limits) lands in one slot, so the session
// store can check a session and count its limit in one script.
func UserLimitKey(userID int64, route string) string {
	return "{" + strconv.FormatInt(userID, 10) + "}:" + route
}

// LimitVerdict is the outcome of counting one event against a UserLimit.
// Counted is false when nothing was counted (the caller counts itself).
type LimitVerdict struct {
	Counted    bool
	Allowed    bool
	RetryAfter time.Duration
}

// CountingSessionFinder is a SessionStore that can find a session and, only
// when it is live, count one event of its user's limit, in one step.
type CountingSessionFinder interface {
	// FindSessionCounting is FindSession that also counts l for the
	// session's user when the session is live. An unknown, expired or
	// revoked token counts nothing. The verdict is not Counted when the
	// store cannot count in the same step (a token of the old format).
	FindSessionCounting(ctx context.Context, token string, l UserLimit) (int64, time.Time, LimitVerdict, error)
}

// AuthenticateCounting is Authenticate for a route with a per-user limit:
// when the session store can, the session lookup counts l in the same
// round trip. A request over the limit gets the verdict (not Allowed) and no
// user: the user row is not read for a request that is refused anyway. When
// the verdict is not Counted, the caller counts l itself.
func (s *AuthService) AuthenticateCounting(ctx context.Context, token string, l UserLimit) (*User, LimitVerdict, error) {
	cs, ok := s.sessions.(CountingSessionFinder)
	if !ok || token == "" {
		u, err := s.Authenticate(ctx, token)
		return u, LimitVerdict{}, err
	}
	return s.counted(ctx, func() (int64, LimitVerdict, *User, error) {
		uid, _, v, err := cs.FindSessionCounting(ctx, token, l)
		return uid, v, nil, err
	}, nil)
}

// counted finishes a counting authentication. find is the session lookup
// (with the user's snapshot when the store keeps them); remember
// (optional) keeps a verified user read from the database for the store.
func (s *AuthService) counted(ctx context.Context, find func() (int64, LimitVerdict, *User, error), remember func(*User)) (*User, LimitVerdict, error) {
	uid, v, cached, err := find()
	if errors.Is(err, ErrNotFound) {
		return nil, LimitVerdict{}, ErrUnauthenticated
	}
	if err != nil {
		return nil, LimitVerdict{}, Unavailable("登录服务暂时不可用，请稍后重试", 3*time.Second, err)
	}
	if v.Counted && !v.Allowed {
		return nil, v, nil
	}
	if cached != nil && cached.ID == uid && cached.Verified() && cached.Self != nil {
		cached.Self.Cached = true
		return cached, v, nil
	}
	u, err := s.users.FindUserByID(ctx, uid)
	if errors.Is(err, ErrNotFound) {
		return nil, LimitVerdict{}, ErrUnauthenticated
	}
	if err != nil {
		return nil, LimitVerdict{}, err
	}
	if remember != nil && u.Verified() && u.Self != nil && u.Self.IDType != "" && u.OpenID != "" {
		remember(u)
	}
	return u, v, nil
}

// UserSnapshotFinder is a CountingSessionFinder that also keeps a snapshot
// of each verified user beside the user's sessions: the part of the user a
// quote or order for "self" needs that only ever grows (the user's
// verified person, its ID type, its identity evidence; the openid).
type UserSnapshotFinder interface {
	// FindSessionSnapshot is FindSessionCounting that also returns the
	// user's snapshot (nil when there is none), in the same step. Nothing
	// is returned for an unknown, expired or revoked token.
	FindSessionSnapshot(ctx context.Context, token string, l UserLimit) (int64, time.Time, LimitVerdict, *User, error)
	// RememberUser keeps u's snapshot, to be stored with the user's next
	// session lookup (no round trip of its own). u has been read from the
	// UserStore, is verified and carries Self.
	RememberUser(u *User)
}

// SnapshotSessionCreator is a SessionStore that can store a user's
// snapshot (UserSnapshotFinder) with a new session, in the same step.
type SnapshotSessionCreator interface {
	// CreateSessionFor is CreateSession for u, storing u's snapshot when u
	// is verified and carries Self.
	CreateSessionFor(ctx context.Context, u *User, expiresAt time.Time) (string, error)
}

// AuthenticateCached is AuthenticateCounting for a route whose use case
// takes a cached user: the user's snapshot (UserSnapshotFinder) instead
// of the user row when there is one. The snapshot is a lower bound of what
// the row says (SelfIdentity.Cached): the user's person, that person's ID
// type and the user's openid never change once set, and evidence is never
// withdrawn, so a use case that allows on it is right, and one that would
// refuse on it reads again (QuoteService.CheckIdentity). Only ID, OpenID,
// PersonID and Self are set on a cached user. Sessions are checked as
// always: the snapshot is only read once the session is found live.
func (s *AuthService) AuthenticateCached(ctx context.Context, token string, l UserLimit) (*User, LimitVerdict, error) {
	sf, ok := s.sessions.(UserSnapshotFinder)
	if !ok || token == "" {
		return s.AuthenticateCounting(ctx, token, l)
	}
	return s.counted(ctx, func() (int64, LimitVerdict, *User, error) {
		uid, _, v, cached, err := sf.FindSessionSnapshot(ctx, token, l)
		return uid, v, cached, err
	}, sf.RememberUser)
}
