package securitytest

import (
	"net/http"
	"strings"
	"testing"
)

// TestAdminRoutesRefuseUserSessionsAndWrongTokens calls every operations
// route without a token, with a user's session token and with a wrong admin
// token (401 or 403 every time), then with the configured admin token (not
// refused).
func TestAdminRoutesRefuseUserSessionsAndWrongTokens(t *testing.T) {
	e := newEnv(t, envOptions{})
	user := e.login(t, "admin-probe")
	params := strings.NewReplacer(":order_no", "O0", ":id", "1", ":seq", "1", ":no", "X0", ":date", "2026-11-23", ":out_trade_no", "T0", ":out_refund_no", "R0")
	n := 0
	for _, r := range routes(t, e) {
		if !strings.Contains(r, "/admin/") && !strings.HasSuffix(r, "/admin") {
			continue
		}
		n++
		method, pattern, _ := strings.Cut(r, " ")
		path := params.Replace(pattern)
		for _, tok := range []string{"", user, e.app.Cfg.AdminToken + "x", strings.ToUpper(e.app.Cfg.AdminToken)} {
			got := e.do(t, method, path, tok, map[string]string{})
			if got.status != http.StatusUnauthorized && got.status != http.StatusForbidden {
				t.Errorf("%s %s with token %q: got %d %q, want 401 or 403", method, path, tok, got.status, got.code())
			}
		}
		got := e.do(t, method, path, e.app.Cfg.AdminToken, map[string]string{})
		if got.status == http.StatusUnauthorized || got.status == http.StatusForbidden {
			t.Errorf("%s %s with the admin token: got %d %q, want it let through", method, path, got.status, got.code())
		}
	}
	if n == 0 {
		t.Skip("no admin routes mounted yet")
	}
}
