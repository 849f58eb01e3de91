package service

import (
	"context"
	"time"
)

// User is a WeChat user of the mini-program, identified by openid.
type User struct {
	ID       int64
	OpenID   string
	UnionID  string
	CareMode bool // large-text, voice-guided UI preference
	// PersonID is the verified identity of this user (see Person); zero until
	// the user has proved who they are.
	PersonID  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Verified reports whether the user has proved their identity.
func (u *User) Verified() bool { return u.PersonID != 0 }

// UserStore persists users.
type UserStore interface {
	// UpsertUserByOpenID creates the user or updates its unionid (kept when
	// the new one is empty) and returns it.
	UpsertUserByOpenID(ctx context.Context, openID, unionID string) (*User, error)
	// FindUserByID returns ErrNotFound when the user does not exist.
	FindUserByID(ctx context.Context, id int64) (*User, error)
	// UpdateUser applies fn to the user inside a transaction.
	UpdateUser(ctx context.Context, id int64, fn func(*User) error) (*User, error)
}
