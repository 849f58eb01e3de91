package securitytest

import (
	"strings"
	"testing"
)

// TestUnauthenticatedInputCannotFloodTheLog sends 300 KB path parameters
// and headers (X-Request-ID, Wechatpay-Serial, the platform callback's
// region and headers) to the unauthenticated routes: each request adds a
// bounded amount to the log, not the input.
func TestUnauthenticatedInputCannotFloodTheLog(t *testing.T) {
	e := newEnv(t, envOptions{})
	big := strings.Repeat("A", 300<<10)
	for _, q := range []req{
		{method: "POST", path: "/api/v1/wxpay/notify", body: `{"id":"x"}`, header: map[string]string{"Wechatpay-Serial": big,
			"Wechatpay-Signature": big, "Wechatpay-Nonce": big, "Wechatpay-Timestamp": big, "X-Request-ID": big}},
		{method: "POST", path: "/api/v1/platform/" + big + "/callback", body: `{}`, header: map[string]string{"X-Request-ID": big}},
		{method: "POST", path: "/api/v1/platform/beijing/callback", body: `{}`, header: map[string]string{"X-Request-ID": big,
			"X-Platform-App-Id": big, "X-Platform-Signature": big, "X-Platform-Nonce": big, "X-Platform-Timestamp": big}},
		{method: "GET", path: "/api/v1/regions/" + big, header: map[string]string{"X-Request-ID": big}},
		{method: "POST", path: "/api/v1/auth/login", body: `{"code":"` + big + `"}`, header: map[string]string{"X-Request-ID": big}},
		{method: "GET", path: "/api/v1/vouchers/verify?code=" + big},
	} {
		before := len(e.logs.String())
		r := e.send(t, q)
		if r.status < 400 {
			t.Fatalf("%s %.60s: got %d, want a refusal", q.method, q.path, r.status)
		}
		if grew := len(e.logs.String()) - before; grew > 16<<10 {
			t.Errorf("%s %.60s: the log grew by %d bytes: %.300s", q.method, q.path, grew, e.logs.String()[before:])
		}
	}
}
