package main

import (
	"context"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/wxpay"
)

// runOrders measures POST /api/v1/orders.
func runOrders(ctx context.Context, o *options, rep *report, db *benchDB, rdb *redis.Client, srv *child, c *http.Client, keys *wxpay.DevKeys, logf func(string, ...any)) error {
	if !routeExists(ctx, c, srv.URL(), "/api/v1/orders") {
		rep.note("orders: POST /api/v1/orders is not mounted in this build; skipped")
		return nil
	}
	rep.note("orders: not implemented yet")
	return nil
}
