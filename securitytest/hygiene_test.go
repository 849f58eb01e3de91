package securitytest

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// TestEveryReplyHasHygieneHeaders calls every route of the router (and an
// unknown path): each reply says nosniff, and every /api/ reply, the login
// token above all, says Cache-Control: no-store.
func TestEveryReplyHasHygieneHeaders(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.login(t, "hygiene-user")
	login := e.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"code": "hygiene-user"})
	if got := login.header.Get("Cache-Control"); got != "no-store" {
		t.Fatalf("login reply Cache-Control %q, want no-store", got)
	}
	params := strings.NewReplacer(":order_no", "O0", ":id", "1", ":seq", "1", ":code", "beijing", ":token", "x", ":out_trade_no", "T0", ":out_refund_no", "R0", ":region", "beijing", "*path", "x")
	paths := []string{"GET /nope", "GET /api/v1/nope"}
	paths = append(paths, routes(t, e)...)
	for _, r := range paths {
		method, pattern, _ := strings.Cut(r, " ")
		path := params.Replace(pattern)
		got := e.do(t, method, path, tok, nil)
		if v := got.header.Get("X-Content-Type-Options"); v != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options %q, want nosniff", method, path, got.status, v)
		}
		if strings.HasPrefix(path, "/api/") && got.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s (%d): Cache-Control %q, want no-store", method, path, got.status, got.header.Get("Cache-Control"))
		}
	}
}

// TestWrongMethodIs405WithAllow: a known path with another method answers
// 405 with Allow naming the methods it has, in the error envelope.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.login(t, "method-user")
	for _, c := range []struct{ method, path, allow string }{
		{"GET", "/api/v1/auth/login", "POST"},
		{"DELETE", "/api/v1/me", "GET, PATCH"},
		{"PUT", "/api/v1/orders", "GET, POST"},
	} {
		r := e.do(t, c.method, c.path, tok, nil)
		want(t, c.method+" "+c.path, r, http.StatusMethodNotAllowed, "method_not_allowed")
		if got := r.header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}

// TestPaginationIsBounded: page and page_size past their bounds (up to an
// offset that would overflow int64) are refused with 400.
func TestPaginationIsBounded(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.login(t, "page-user")
	for _, q := range []string{"page=9223372036854775807", "page=461168601842738791", "page=10001", "page=0", "page_size=51",
		"page_size=-1", "page=1e3", "page=99999999999999999999999"} {
		want(t, "orders?"+q, e.do(t, "GET", "/api/v1/orders?"+q, tok, nil), http.StatusBadRequest, "invalid_request")
	}
	r := e.do(t, "GET", "/api/v1/orders?page=10000&page_size=50", tok, nil)
	want(t, "last page", r, http.StatusOK, "")
}

// TestAdminAlertsMaskIdentifiers: an alert carrying a notification body
// shows operations the trade number and amount, not the payer's openid, ID
// number or phone.
func TestAdminAlertsMaskIdentifiers(t *testing.T) {
	e := newEnv(t, envOptions{})
	const openid, idNo, phone = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "110105197606061234", "13812345678"
	body := `{"out_trade_no":"T20261124000001","transaction_id":"4200000000202611240000000001","payer":{"openid":"` + openid +
		`"},"amount":{"total":100},"note":"id ` + idNo + ` phone ` + phone + `"}`
	if err := model.NewOrderStore(e.app.DB).RecordAlert(context.Background(), service.Alert{Kind: service.AlertUnknownTrade,
		Ref: "T20261124000001", Detail: "source=notify; body=" + body}); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "GET", "/api/v1/admin/alerts", e.app.Cfg.AdminToken, nil)
	want(t, "alerts", r, http.StatusOK, "")
	for _, secret := range []string{openid, idNo, phone} {
		if strings.Contains(r.raw, secret) {
			t.Errorf("alerts reply shows %q: %s", secret, r.raw)
		}
	}
	for _, keep := range []string{"T20261124000001", "4200000000202611240000000001", `"total\":100`, "oUpF"} {
		if !strings.Contains(r.raw, keep) {
			t.Errorf("alerts reply lost %q: %s", keep, r.raw)
		}
	}
}
