package main

import "context"

// seedPersons returns person ids for n users, or nil when this build has no
// identity store (users stay unverified).
func seedPersons(ctx context.Context, o *options, db *benchDB, n int) ([]int64, error) {
	return nil, nil
}
