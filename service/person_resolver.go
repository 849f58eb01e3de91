package service

import "context"

// PersonResolver turns the "person" of a request ("self" or a family binding
// id) into the insured person the user may pay for.
type PersonResolver interface {
	ResolvePerson(ctx context.Context, userID int64, person string) (*Person, error)
}
