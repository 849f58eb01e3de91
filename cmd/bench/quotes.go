package main

import (
	"context"
	"net/http"

	"github.com/redis/go-redis/v9"
)

// runQuotes measures POST /api/v1/quotes.
func runQuotes(ctx context.Context, o *options, rep *report, db *benchDB, rdb *redis.Client, srv *child, c *http.Client, logf func(string, ...any)) error {
	if !routeExists(ctx, c, srv.URL(), "/api/v1/quotes") {
		rep.note("quotes: POST /api/v1/quotes is not mounted in this build; skipped")
		return nil
	}
	rep.note("quotes: not implemented yet")
	return nil
}
