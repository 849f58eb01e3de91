package securitytest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// The operations console (/ops/) has its own session: a cookie scoped to
// /ops that no /api/v1 route accepts, and it accepts no bearer token. Its
// forms carry a CSRF token, its bodies are limited, its pages carry a
// strict Content-Security-Policy and no script, and its actions write the
// same audit trail as the JSON admin API.

// consoleClient keeps the console's cookies by hand: they are Secure, which
// Go's cookie jar never sends over the test's plain http.
type consoleClient struct {
	e       *env
	cookies map[string]*http.Cookie
	last    *http.Response
}

func newConsole(e *env) *consoleClient {
	return &consoleClient{e: e, cookies: map[string]*http.Cookie{}}
}

type page struct {
	status int
	header http.Header
	body   string
}

// do sends a request without following redirects.
func (c *consoleClient) do(tb testing.TB, method, path string, form url.Values, header map[string]string) page {
	tb.Helper()
	var body io.Reader = http.NoBody
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, ck := range c.cookies {
		r.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	client := *c.e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(r)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	return page{status: res.StatusCode, header: res.Header, body: string(raw)}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(tb testing.TB, p page) string {
	tb.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		tb.Fatalf("no csrf field in page (%d): %.300s", p.status, p.body)
	}
	return m[1]
}

// signIn signs in with token (and operator name) and returns the session's
// CSRF token.
func (c *consoleClient) signIn(tb testing.TB, operator, token string) string {
	tb.Helper()
	login := c.do(tb, "GET", "/ops/login", nil, nil)
	if login.status != http.StatusOK {
		tb.Fatalf("login page: %d", login.status)
	}
	r := c.do(tb, "POST", "/ops/login", url.Values{"csrf": {csrfOf(tb, login)}, "operator": {operator}, "token": {token}}, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ops/" {
		tb.Fatalf("sign in: %d %s: %.300s", r.status, r.header.Get("Location"), r.body)
	}
	home := c.do(tb, "GET", "/ops/", nil, nil)
	if home.status != http.StatusOK {
		tb.Fatalf("dashboard after sign-in: %d: %.300s", home.status, home.body)
	}
	return csrfOf(tb, home)
}

// consoleRoutes are the console's routes with sample parameters.
func consoleRoutes(t *testing.T, e *env) []string {
	var out []string
	p := strings.NewReplacer(":out_trade_no", "T0_01", ":out_refund_no", "R0", ":id", "1", ":order_no", "O0", ":ticket_no", "TK0")
	for _, r := range routes(t, e) {
		if method, path, _ := strings.Cut(r, " "); strings.HasPrefix(path, "/ops") && !strings.Contains(path, "/static/") {
			out = append(out, method+" "+p.Replace(path))
		}
	}
	if len(out) < 15 {
		t.Fatalf("console routes: %v", out)
	}
	return out
}

func TestConsoleRefusesBearerTokensAndNeedsItsOwnSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	user := e.login(t, "console-probe")
	for _, r := range consoleRoutes(t, e) {
		method, path, _ := strings.Cut(r, " ")
		if path == "/ops/login" || path == "/ops" {
			continue
		}
		for _, tok := range []string{"", user, e.app.Cfg.AdminToken} {
			c := newConsole(e)
			h := map[string]string{}
			if tok != "" {
				h["Authorization"] = "Bearer " + tok
			}
			got := c.do(t, method, path, url.Values{"csrf": {"x"}}, h)
			switch {
			case method == "GET" && (got.status != http.StatusSeeOther || got.header.Get("Location") != "/ops/login"):
				t.Errorf("%s with bearer %q: got %d %s, want 303 to /ops/login", r, tok, got.status, got.header.Get("Location"))
			case method == "POST" && got.status != http.StatusUnauthorized:
				t.Errorf("%s with bearer %q: got %d, want 401", r, tok, got.status)
			}
		}
	}
	// A user token is not a console sign-in token either.
	c := newConsole(e)
	login := c.do(t, "GET", "/ops/login", nil, nil)
	if r := c.do(t, "POST", "/ops/login", url.Values{"csrf": {csrfOf(t, login)}, "token": {user}}, nil); r.status != http.StatusUnauthorized || c.cookies["sipay_ops"] != nil {
		t.Fatalf("sign-in with a user token: %d, cookie %v", r.status, c.cookies["sipay_ops"])
	}
}

func TestConsoleCookieIsStrictAndNeverValidOnTheAPI(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := newConsole(e)
	c.signIn(t, "", e.app.Cfg.AdminToken)
	ck := c.cookies["sipay_ops"]
	if ck == nil {
		t.Fatal("no session cookie")
	}
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/ops" {
		t.Fatalf("cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/ops", ck)
	}
	// The cookie (sent by hand, even to paths the browser would not send it
	// to) opens no API route, and is no bearer token either.
	for _, path := range []string{"/api/v1/me", "/api/v1/admin/holds", "/api/v1/admin/alerts", "/api/v1/orders"} {
		for _, h := range []map[string]string{{}, {"Authorization": "Bearer " + ck.Value}} {
			got := c.do(t, "GET", path, nil, h)
			if got.status != http.StatusUnauthorized {
				t.Errorf("GET %s with the console cookie %v: got %d, want 401", path, h, got.status)
			}
		}
	}
}

func TestConsoleFormsNeedTheSessionCSRFToken(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	if err := model.NewOrderStore(e.app.DB).RecordAlert(ctx, service.Alert{Kind: service.AlertRefundClosed, Ref: "R1", Detail: "probe"}); err != nil {
		t.Fatal(err)
	}
	c := newConsole(e)
	csrf := c.signIn(t, "", e.app.Cfg.AdminToken)
	other := newConsole(e)
	otherCSRF := other.signIn(t, "", e.app.Cfg.AdminToken)
	if otherCSRF == csrf {
		t.Fatal("two sessions share a CSRF token")
	}
	for _, bad := range []url.Values{{}, {"csrf": {""}}, {"csrf": {otherCSRF}}, {"csrf": {csrf + "x"}}} {
		if r := c.do(t, "POST", "/ops/alerts/1/ack", bad, nil); r.status != http.StatusForbidden {
			t.Fatalf("ack with csrf %v: got %d, want 403", bad, r.status)
		}
	}
	as, _ := e.app.After.Ops.Alerts(ctx, "test", "")
	if len(as) != 1 || as[0].Status != service.AlertOpen {
		t.Fatalf("alert changed without a valid CSRF token: %+v", as)
	}
	if r := c.do(t, "POST", "/ops/alerts/1/ack", url.Values{"csrf": {csrf}}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("ack with the session's token: %d %.300s", r.status, r.body)
	}
	// The sign-in form has its own double-submit token.
	fresh := newConsole(e)
	if r := fresh.do(t, "POST", "/ops/login", url.Values{"csrf": {"guess"}, "token": {e.app.Cfg.AdminToken}}, nil); r.status != http.StatusForbidden || fresh.cookies["sipay_ops"] != nil {
		t.Fatalf("sign-in without the login cookie: %d", r.status)
	}
}

func TestConsoleActionsWriteTheSameAuditTrailAsTheAPI(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	orders := model.NewOrderStore(e.app.DB)
	for i := 0; i < 2; i++ { // two alerts: one row per (kind, ref)
		if err := orders.RecordAlert(ctx, service.Alert{Kind: service.AlertRefundClosed, Ref: fmt.Sprintf("R%d", i+1), Detail: "probe"}); err != nil {
			t.Fatal(err)
		}
	}
	c := newConsole(e)
	csrf := c.signIn(t, "carol", e.app.Cfg.AdminToken)
	if r := c.do(t, "POST", "/ops/alerts/1/resolve", url.Values{"csrf": {csrf}, "note": {"handled in merchant console"}}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("console resolve: %d %.300s", r.status, r.body)
	}
	api := e.do(t, "POST", "/api/v1/admin/alerts/2/resolve", e.app.Cfg.AdminToken, map[string]string{"note": "same"})
	want(t, "api resolve", api, http.StatusOK, "")
	es, err := model.NewAfterStore(e.app.DB).FindAudit(ctx, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	byTarget := map[string]service.AuditEntry{}
	for _, a := range es {
		if a.Action == "resolve_alert" {
			byTarget[a.Target] = a
		}
	}
	con, jsn := byTarget["alert:1"], byTarget["alert:2"]
	if con.Actor != "ops:admin/carol" || !strings.Contains(con.After, `"resolved"`) || !strings.Contains(con.Before, `"open"`) {
		t.Fatalf("console audit entry: %+v", con)
	}
	if !strings.HasPrefix(jsn.Actor, "token:") || !strings.Contains(jsn.After, `"resolved"`) {
		t.Fatalf("API audit entry: %+v", jsn)
	}
	// A repeated click changes nothing and writes nothing.
	if r := c.do(t, "POST", "/ops/alerts/1/resolve", url.Values{"csrf": {csrf}}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("repeat resolve: %d", r.status)
	}
	es2, _ := model.NewAfterStore(e.app.DB).FindAudit(ctx, "alert:1", 50)
	n := 0
	for _, a := range es2 {
		if a.Action == "resolve_alert" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("resolve_alert entries for alert:1 = %d, want 1", n)
	}
	// Reading the console is audited like the API's reads.
	c.do(t, "GET", "/ops/audit?q=resolve_alert", nil, nil)
	es3, _ := model.NewAfterStore(e.app.DB).FindAudit(ctx, "resolve_alert", 5)
	if len(es3) == 0 || es3[0].Action != "view_audit" || es3[0].Actor != "ops:admin/carol" {
		t.Fatalf("audit search not audited: %+v", es3)
	}
}

func TestConsolePagesHaveStrictHeadersAndNoScript(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := newConsole(e)
	c.signIn(t, "", e.app.Cfg.AdminToken)
	pages := []string{"/ops/login", "/ops/", "/ops/holds", "/ops/unknown", "/ops/refunds", "/ops/alerts", "/ops/recon?date=2026-11-23",
		"/ops/orders", "/ops/orders?q=nothing", "/ops/orders/O0", "/ops/audit", "/ops/audit?q=x&page=2",
		"/ops/tickets", "/ops/tickets/TK0", "/ops/credit", "/ops/credit?state=posted"}
	for _, p := range pages {
		r := c.do(t, "GET", p, nil, nil)
		if r.status >= 500 || r.status == http.StatusSeeOther {
			t.Errorf("GET %s: %d", p, r.status)
		}
		csp := r.header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("GET %s: CSP %q lacks %q", p, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") && !strings.Contains(csp, "script-src 'none'") {
			t.Errorf("GET %s: CSP %q allows scripts", p, csp)
		}
		for h, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
			if r.header.Get(h) != v {
				t.Errorf("GET %s: %s = %q, want %q", p, h, r.header.Get(h), v)
			}
		}
		low := strings.ToLower(r.body)
		for _, bad := range []string{"<script", "javascript:", " onclick=", " onload=", " style=\"", "http://", "https://"} {
			if strings.Contains(low, bad) {
				t.Errorf("GET %s: page contains %q", p, bad)
			}
		}
	}
	// Reflected input is escaped.
	r := c.do(t, "GET", "/ops/audit?q="+url.QueryEscape(`"><b>x`), nil, nil)
	if strings.Contains(r.body, `"><b>x`) {
		t.Fatalf("audit search reflects raw input")
	}
}

func TestConsoleLimitsBodiesAndSessionsTimeOut(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := newConsole(e)
	csrf := c.signIn(t, "", e.app.Cfg.AdminToken)
	big := url.Values{"csrf": {csrf}, "note": {strings.Repeat("x", 20<<10)}}
	if r := c.do(t, "POST", "/ops/holds/T0_01/reject", big, nil); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized form: %d, want 413", r.status)
	}
	if r := c.do(t, "POST", "/ops/login", big, nil); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized sign-in: %d, want 413", r.status)
	}
	// Idle past OPS_SESSION_IDLE (15m) on the injected clock: signed out.
	e.clock.Advance(10 * time.Minute)
	if r := c.do(t, "GET", "/ops/", nil, nil); r.status != http.StatusOK {
		t.Fatalf("after 10 idle minutes: %d, want still signed in", r.status)
	}
	e.clock.Advance(16 * time.Minute)
	if r := c.do(t, "GET", "/ops/", nil, nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/ops/login" {
		t.Fatalf("after 16 idle minutes: %d %s, want 303 to /ops/login", r.status, r.header.Get("Location"))
	}
	// Sign-out ends the session server-side: the old cookie is dead.
	c2 := newConsole(e)
	csrf2 := c2.signIn(t, "", e.app.Cfg.AdminToken)
	old := *c2.cookies["sipay_ops"]
	c2.do(t, "POST", "/ops/logout", url.Values{"csrf": {csrf2}}, nil)
	c2.cookies["sipay_ops"] = &old
	if r := c2.do(t, "GET", "/ops/", nil, nil); r.status != http.StatusSeeOther {
		t.Fatalf("old cookie after sign-out: %d, want 303", r.status)
	}
}

func TestConsoleMasksPIIUntilARevealThatIsAudited(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.login(t, "console-pii")
	id := residentID("11010519760606123")
	e.verify(t, tok, "柏杨", id)
	q := e.do(t, "POST", "/api/v1/quotes", tok, quoteBody("self"))
	want(t, "quote", q, http.StatusCreated, "")
	o := e.order(t, tok, q.str("id"), "console-pii-1")
	no := o.str("order_no")

	c := newConsole(e)
	csrf := c.signIn(t, "dave", e.app.Cfg.AdminToken)
	r := c.do(t, "GET", "/ops/orders?q="+url.QueryEscape(no), nil, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ops/orders/"+no {
		t.Fatalf("search: %d %s", r.status, r.header.Get("Location"))
	}
	masked := c.do(t, "GET", "/ops/orders/"+no, nil, nil)
	if masked.status != http.StatusOK || strings.Contains(masked.body, id) || strings.Contains(masked.body, "柏杨") || !strings.Contains(masked.body, "柏*") {
		t.Fatalf("order page must be masked: %d %.2000s", masked.status, masked.body)
	}
	// A reveal is a POST with the CSRF token, and audited.
	if r := c.do(t, "POST", "/ops/orders/"+no+"/reveal", url.Values{}, nil); r.status != http.StatusForbidden {
		t.Fatalf("reveal without csrf: %d", r.status)
	}
	shown := c.do(t, "POST", "/ops/orders/"+no+"/reveal", url.Values{"csrf": {csrf}}, nil)
	if shown.status != http.StatusOK || !strings.Contains(shown.body, id) || !strings.Contains(shown.body, "柏杨") {
		t.Fatalf("reveal: %d", shown.status)
	}
	es, _ := model.NewAfterStore(e.app.DB).FindAudit(context.Background(), no, 20)
	reveals := 0
	for _, a := range es {
		if a.Action == "reveal_pii" && a.Actor == "ops:admin/dave" {
			reveals++
		}
	}
	if reveals != 1 {
		t.Fatalf("reveal_pii entries = %d, want 1: %+v", reveals, es)
	}
	// The audit log itself never carries the revealed values.
	for _, a := range es {
		if strings.Contains(a.Before+a.After, id) {
			t.Fatalf("audit entry holds the ID number: %+v", a)
		}
	}
}
