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
	// Self is what the user's own verified person carries, read in the
	// same statement as the user by UserStore.FindUserByID (the read
	// authentication makes), so that a quote or order for "self" needs no
	// person or evidence read. Nil when the user is not verified or was
	// loaded another way; the use cases then read as before.
	Self *SelfIdentity
}

// SelfIdentity is the ID type of the user's verified person and the
// identity methods that verified that person, as IdentityEvidence would
// report them: Face for a verified face attempt (any region), Checks for
// verified identity checks, by region.
type SelfIdentity struct {
	IDType IDType
	Face   bool
	Checks []RegionMethod
	// Cached is set when the identity came from the user's snapshot in the
	// session store (AuthService.AuthenticateCached) rather than from the
	// database: then Face and Checks are a lower bound, what the person
	// had when the snapshot was taken. Evidence is never withdrawn (a
	// verified face attempt or identity check stays verified) and the ID
	// type of a person and the person of a verified user never change, so
	// what the snapshot allows is allowed; a refusal must be decided on a
	// fresh read (QuoteService.CheckIdentity does).
	Cached bool
}

// RegionMethod is an identity method passed in a region.
type RegionMethod struct {
	Region string
	Method string
}

// MethodsIn returns the methods that verified the person for region,
// which IdentityEvidence.VerifiedMethods returns for the same person.
func (si *SelfIdentity) MethodsIn(region string) []string {
	var out []string
	if si.Face {
		out = append(out, IdentityFace)
	}
	for _, c := range si.Checks {
		if c.Region == region {
			out = append(out, c.Method)
		}
	}
	return out
}

// selfIdentity returns the Self of the authenticated user of ctx when it
// is userID and personID is that user's own person, or nil.
func selfIdentity(ctx context.Context, userID, personID int64) *SelfIdentity {
	if u := AuthenticatedUser(ctx, userID); u != nil && u.Self != nil && u.PersonID != 0 && u.PersonID == personID {
		return u.Self
	}
	return nil
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

type authUserKey struct{}

// WithAuthenticatedUser returns ctx carrying the user the request was
// authenticated as, so that the use cases below the handler do not read
// the user row again (one read per request).
func WithAuthenticatedUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, authUserKey{}, u)
}

// AuthenticatedUser returns the user ctx carries when its id is userID, or
// nil.
func AuthenticatedUser(ctx context.Context, userID int64) *User {
	if u, ok := ctx.Value(authUserKey{}).(*User); ok && u != nil && u.ID == userID {
		return u
	}
	return nil
}

// userByID returns the authenticated user of ctx when it is userID, and
// otherwise reads it with find.
func userByID(ctx context.Context, userID int64, find func(context.Context, int64) (*User, error)) (*User, error) {
	if u := AuthenticatedUser(ctx, userID); u != nil {
		return u, nil
	}
	return find(ctx, userID)
}
