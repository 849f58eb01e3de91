package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// WeChatLogin exchanges a wx.login code for the user's WeChat ids. It returns
// *Error values for WeChat's documented failures (invalid_code, rate_limited,
// login_blocked, wechat_unavailable).
type WeChatLogin interface {
	Code2Session(ctx context.Context, code string) (openID, unionID string, err error)
}

// SessionStore keeps login sessions.
type SessionStore interface {
	// CreateSession returns a new opaque token for userID valid until expiresAt.
	CreateSession(ctx context.Context, userID int64, expiresAt time.Time) (string, error)
	// FindSession returns the user of a live token or ErrNotFound.
	FindSession(ctx context.Context, token string) (int64, time.Time, error)
	// DeleteSession ends one session (logout).
	DeleteSession(ctx context.Context, token string) error
	// RevokeUserSessions ends every session of userID issued so far.
	RevokeUserSessions(ctx context.Context, userID int64) error
}

// Session is an issued login.
type Session struct {
	Token     string
	ExpiresAt time.Time
	User      *User
}

// AuthService logs users in and resolves their sessions.
type AuthService struct {
	users    UserStore
	wechat   WeChatLogin
	sessions SessionStore
	clock    Clock
	ttl      time.Duration
}

// AuthDeps are the dependencies of an AuthService; all are required.
type AuthDeps struct {
	Users    UserStore
	WeChat   WeChatLogin
	Sessions SessionStore
	Clock    Clock
	TTL      time.Duration // how long a session lasts
}

// NewAuthService returns an AuthService. It panics on nil dependencies or a
// non-positive TTL.
func NewAuthService(d AuthDeps) *AuthService {
	if d.Users == nil || d.WeChat == nil || d.Sessions == nil || d.Clock == nil || d.TTL <= 0 {
		panic("service: NewAuthService: missing dependency")
	}
	return &AuthService{users: d.Users, wechat: d.WeChat, sessions: d.Sessions, clock: d.Clock, ttl: d.TTL}
}

// Login exchanges a wx.login code for a session, creating the user on first
// login and keeping the unionid when WeChat sends one.
func (s *AuthService) Login(ctx context.Context, code string) (*Session, error) {
	code = strings.TrimSpace(code)
	if code == "" {
		return nil, Invalid("invalid_code", "登录凭证不能为空", FieldError{Field: "code", Code: "required", Message: "请提供 wx.login 返回的 code"})
	}
	if !ValidLoginCode(code) {
		// The code goes into WeChat's URL: anything but a short token of
		// [A-Za-z0-9_-] could add query parameters, and never came from
		// wx.login.
		return nil, Invalid("invalid_code", "登录凭证格式无效，请重新进入小程序", FieldError{Field: "code", Code: "format", Message: "code 应为 wx.login 返回的凭证"})
	}
	openID, unionID, err := s.wechat.Code2Session(ctx, code)
	if err != nil {
		return nil, err
	}
	u, err := s.users.UpsertUserByOpenID(ctx, openID, unionID)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	exp := s.clock.Now().Add(s.ttl).Truncate(time.Second)
	token, err := s.createSession(ctx, u, exp)
	if err != nil {
		return nil, Unavailable("登录服务暂时不可用，请稍后重试", 3*time.Second, err)
	}
	return &Session{Token: token, ExpiresAt: exp, User: u}, nil
}

// createSession creates u's session. A verified user's session is stored
// with the user's snapshot when the store keeps them (so the first quote
// or order of the session reads no user row): the user is read again, with
// its identity, for it.
func (s *AuthService) createSession(ctx context.Context, u *User, exp time.Time) (string, error) {
	sc, ok := s.sessions.(SnapshotSessionCreator)
	if !ok || !u.Verified() {
		return s.sessions.CreateSession(ctx, u.ID, exp)
	}
	full, err := s.users.FindUserByID(ctx, u.ID)
	if err != nil {
		return s.sessions.CreateSession(ctx, u.ID, exp)
	}
	return sc.CreateSessionFor(ctx, full, exp)
}

// MaxLoginCodeLen bounds a wx.login code (WeChat's are 32 characters).
const MaxLoginCodeLen = 128

// ValidLoginCode reports whether code looks like a wx.login code: 1 to
// MaxLoginCodeLen characters of [A-Za-z0-9_-].
func ValidLoginCode(code string) bool {
	return ValidToken(code, 1, MaxLoginCodeLen, "_-")
}

// ErrUnauthenticated is returned for a missing, unknown or expired token.
var ErrUnauthenticated = &Error{Kind: KindUnauthenticated, Code: CodeUnauthenticated, Message: "登录已失效，请重新登录"}

// Authenticate returns the user of a session token.
func (s *AuthService) Authenticate(ctx context.Context, token string) (*User, error) {
	if token == "" {
		return nil, ErrUnauthenticated
	}
	uid, _, err := s.sessions.FindSession(ctx, token)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, Unavailable("登录服务暂时不可用，请稍后重试", 3*time.Second, err)
	}
	u, err := s.users.FindUserByID(ctx, uid)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	return u, err
}

// Logout ends the session of token.
func (s *AuthService) Logout(ctx context.Context, token string) error {
	if err := s.sessions.DeleteSession(ctx, token); err != nil {
		return Unavailable("登录服务暂时不可用，请稍后重试", 3*time.Second, err)
	}
	return nil
}

// LogoutEverywhere ends every session of the user (a lost phone).
func (s *AuthService) LogoutEverywhere(ctx context.Context, userID int64) error {
	if err := s.sessions.RevokeUserSessions(ctx, userID); err != nil {
		return Unavailable("登录服务暂时不可用，请稍后重试", 3*time.Second, err)
	}
	return nil
}

// SetCareMode sets the user's care-mode preference.
func (s *AuthService) SetCareMode(ctx context.Context, userID int64, on bool) (*User, error) {
	return s.users.UpdateUser(ctx, userID, func(u *User) error { u.CareMode = on; return nil })
}

// RateLimiter counts events per key in fixed windows.
type RateLimiter interface {
	// Allow counts one event and reports whether key is within limit per
	// window, and otherwise how long to wait.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error)
}

// IdentityViewer shows a person in masked form.
type IdentityViewer interface {
	// MaskedPerson returns the person with name and ID number masked.
	MaskedPerson(ctx context.Context, personID int64) (*Person, error)
}
