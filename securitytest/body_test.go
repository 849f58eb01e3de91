package securitytest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shebao/sipay/api"
)

// Routes that take no request body: a body is never read.
var noBodyRoutes = []string{
	"POST /api/v1/family/invitations/:token/accept",
	"POST /api/v1/orders/:order_no/batches/:seq/pay",
	"POST /api/v1/orders/:order_no/cancel",
	"POST /api/v1/credit/orders/:order_no/confirmation",
	"POST /api/v1/admin/holds/:out_trade_no/release",
	"POST /api/v1/admin/refunds/:out_refund_no/retry",
	"POST /api/v1/orders/:order_no/batches/:seq/step-up",
	"POST /api/v1/admin/evidence/tree-heads",
}

// Routes with a body that is not ours to shape: WeChat Pay notifications
// (WeChat's format, 1 MiB) and the simulators.
var foreignBodyRoutes = []string{
	"POST /api/v1/wxpay/notify",
	"POST /api/v1/platform/:region/callback", // HMAC-signed, platform's format; see platform tests
	" /sim/",
	" /ops/", // the operations console's HTML forms (16 KiB limit; console_test.go)
}

func listed(list []string, route string) bool {
	for _, p := range list {
		if route == p || (strings.HasPrefix(p, " ") && strings.Contains(route, p)) {
			return true
		}
	}
	return false
}

// padded returns {"<field>":1} padded with spaces to exactly n bytes.
func padded(field string, n int) string {
	s := `{"` + field + `":1}`
	return s[:len(s)-1] + strings.Repeat(" ", n-len(s)) + "}"
}

// TestEveryJSONRouteLimitsBodyAndRefusesUnknownFields sends every POST and
// PATCH route of the router, with a session and real path parameters of the
// caller's own resources, a body one byte over api.MaxBodyBytes (400
// body_too_large) and a body of exactly api.MaxBodyBytes with an unknown
// field (400 unknown_field).
func TestEveryJSONRouteLimitsBodyAndRefusesUnknownFields(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.login(t, "body-user")
	e.verify(t, tok, "柏杨", residentID("11010519760606123"))
	add := e.do(t, "POST", "/api/v1/family", tok, map[string]string{"name": "柏母", "id_type": "resident_id",
		"id_number": residentID("11010519500707234"), "relation": "parent"})
	want(t, "add binding", add, http.StatusCreated, "")
	params := strings.NewReplacer(":id", add.str("id"), ":token", add.str("invitation"), ":order_no", "O0", ":seq", "1", ":code", "beijing", ":out_trade_no", "T0", ":out_refund_no", "R0")

	checked := 0
	for _, route := range routes(t, e) {
		method, pattern, _ := strings.Cut(route, " ")
		if (method != "POST" && method != "PATCH" && method != "PUT") || listed(foreignBodyRoutes, route) {
			continue
		}
		path := params.Replace(pattern)
		headers := map[string]string{"Idempotency-Key": "body-" + method + path}
		tok := tok
		if strings.Contains(pattern, "/admin/") {
			tok = e.app.Cfg.AdminToken
		}
		if listed(noBodyRoutes, route) {
			r := e.send(t, req{method: method, path: path, token: tok, body: padded("zz", api.MaxBodyBytes+1), header: headers})
			if r.status >= 500 {
				t.Errorf("%s with an oversized body: got %d, want no server error", route, r.status)
			}
			continue
		}
		checked++
		big := e.send(t, req{method: method, path: path, token: tok, body: padded("zz", api.MaxBodyBytes+1), header: headers})
		if big.status != http.StatusBadRequest || big.code() != "body_too_large" {
			t.Errorf("%s with %d bytes: got %d %q, want 400 body_too_large", route, api.MaxBodyBytes+1, big.status, big.code())
		}
		unknown := e.send(t, req{method: method, path: path, token: tok, body: padded("zz_unknown_field", api.MaxBodyBytes), header: headers})
		if unknown.status != http.StatusBadRequest || unknown.code() != "unknown_field" {
			t.Errorf("%s with an unknown field (%d bytes): got %d %q, want 400 unknown_field", route, api.MaxBodyBytes, unknown.status, unknown.code())
		}
		if unknown.code() == "unknown_field" && !strings.Contains(unknown.raw, `"field":"zz_unknown_field"`) {
			t.Errorf("%s: unknown_field reply does not name the field: %s", route, unknown.raw)
		}
	}
	if checked < 8 {
		t.Fatalf("checked %d JSON routes, want at least 8 (login, me, family, consent, face, alt, quotes, orders)", checked)
	}
}
