package securitytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wantRateLimited fails unless r is 429 with Retry-After and the envelope.
func wantRateLimited(t *testing.T, what string, r reply) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.code() != "rate_limited" {
		t.Fatalf("%s: got %d %q, want 429 rate_limited: %.300s", what, r.status, r.code(), r.raw)
	}
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 60 {
		t.Fatalf("%s: Retry-After %q, want 1..60 seconds", what, r.header.Get("Retry-After"))
	}
	if r.str("error", "message") == "" || r.str("error", "request_id") != r.header.Get("X-Request-ID") ||
		r.str("error", "retry_after_seconds") != strconv.Itoa(ra) {
		t.Fatalf("%s: envelope %s, want message, request_id and retry_after_seconds %d", what, r.raw, ra)
	}
}

// TestRateLimitsAnswer429WithRetryAfter exhausts the limit of each guarded
// route with requests the handler refuses cheaply (the limiter counts them
// all), checks the 429, and checks that the window ends with the injected
// clock.
func TestRateLimitsAnswer429WithRetryAfter(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.login(t, "rl-user")
	other := e.login(t, "rl-other")
	for _, tc := range []struct {
		name   string
		limit  int
		req    req
		before int // status of the requests within the limit
	}{
		{"FaceStart", 10, req{method: "POST", path: "/api/v1/identity/face/start", token: tok,
			body: map[string]string{"name": "测试", "id_type": "resident_id", "id_number": "123"}}, http.StatusBadRequest},
		{"FaceResult", 30, req{method: "POST", path: "/api/v1/identity/face/result", token: tok,
			body: map[string]string{"verify_id": "no-such-verify-id"}}, http.StatusNotFound},
		{"Quote", 30, req{method: "POST", path: "/api/v1/quotes", token: tok,
			body: map[string]any{"region": "atlantis", "person": "self"}}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < tc.limit; i++ {
				if r := e.send(t, tc.req); r.status != tc.before {
					t.Fatalf("request %d of %d: got %d %q, want %d", i+1, tc.limit, r.status, r.code(), tc.before)
				}
			}
			wantRateLimited(t, fmt.Sprintf("request %d", tc.limit+1), e.send(t, tc.req))
			// Limits are per user: another user is not affected.
			o := tc.req
			o.token = other
			if r := e.send(t, o); r.status != tc.before {
				t.Fatalf("another user: got %d %q, want %d", r.status, r.code(), tc.before)
			}
		})
	}
	t.Run("WindowEndsWithTheClock", func(t *testing.T) {
		e.clock.Advance(time.Minute)
		r := e.send(t, req{method: "POST", path: "/api/v1/quotes", token: tok, body: map[string]any{"region": "atlantis", "person": "self"}})
		if r.status != http.StatusBadRequest {
			t.Fatalf("after the window: got %d %q, want 400", r.status, r.code())
		}
	})
}

// loginFrom calls the login route as a peer at remoteAddr (the handler
// directly: an httptest client always connects from loopback).
func (e *env) loginFrom(t *testing.T, remoteAddr, code string, header map[string]string) reply {
	t.Helper()
	hr := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(`{"code":"`+code+`"}`))
	hr.RemoteAddr = remoteAddr
	hr.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.app.Handler.ServeHTTP(w, hr)
	r := reply{status: w.Code, header: w.Header(), raw: w.Body.String()}
	dec := json.NewDecoder(w.Body)
	dec.UseNumber()
	_ = dec.Decode(&r.body)
	return r
}

// TestLoginRateLimitCannotBeDodgedWithForwardedFor logs in 20 times from one
// internet client, then checks the 21st is refused, also when it claims
// another address in X-Forwarded-For or X-Real-IP. Behind a reverse proxy on
// the private network, the proxy's X-Forwarded-For names the client.
func TestLoginRateLimitCannotBeDodgedWithForwardedFor(t *testing.T) {
	e := newEnv(t, envOptions{})
	const client = "198.51.100.20:40000"
	for i := 0; i < 20; i++ {
		want(t, fmt.Sprintf("login %d", i+1), e.loginFrom(t, client, fmt.Sprintf("rl-login-%d", i), nil), http.StatusOK, "")
	}
	wantRateLimited(t, "login 21", e.loginFrom(t, client, "rl-login-x", nil))
	for i, h := range []map[string]string{
		{"X-Forwarded-For": "203.0.113.7"},
		{"X-Real-IP": "203.0.113.8"},
		{"X-Forwarded-For": "203.0.113.9, 10.0.0.1"},
		{"X-Forwarded-For": "127.0.0.1"},
	} {
		wantRateLimited(t, fmt.Sprintf("login with forged address %v", h), e.loginFrom(t, client, fmt.Sprintf("rl-spoof-%d", i), h))
	}
	want(t, "another client", e.loginFrom(t, "198.51.100.21:40000", "rl-login-z", nil), http.StatusOK, "")

	t.Run("PrivatePeerIsNotTrustedByDefault", func(t *testing.T) {
		// TRUSTED_PROXIES defaults to loopback: a peer on the private
		// network rotating X-Forwarded-For is still one client.
		const peer = "10.9.8.7:5555"
		for i := 0; i < 20; i++ {
			want(t, fmt.Sprintf("private peer login %d", i+1), e.loginFrom(t, peer, fmt.Sprintf("rl-pp-%d", i),
				map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i)}), http.StatusOK, "")
		}
		wantRateLimited(t, "private peer login 21 with a fresh X-Forwarded-For",
			e.loginFrom(t, peer, "rl-pp-x", map[string]string{"X-Forwarded-For": "203.0.113.200"}))
	})

	e.clock.Advance(time.Minute)
	want(t, "login in the next window", e.loginFrom(t, client, "rl-login-y", nil), http.StatusOK, "")
}

// TestLoginRateLimitBehindConfiguredProxy: with the load balancer's
// network in TRUSTED_PROXIES, its X-Forwarded-For names the client.
func TestLoginRateLimitBehindConfiguredProxy(t *testing.T) {
	e := newEnv(t, envOptions{env: map[string]string{"TRUSTED_PROXIES": "127.0.0.0/8,10.1.2.0/24"}})
	const proxy = "10.1.2.3:5555"
	via := func(clientIP string) map[string]string {
		// A client-supplied header first, the proxy's own entry last.
		return map[string]string{"X-Forwarded-For": "6.6.6.6, " + clientIP}
	}
	for i := 0; i < 20; i++ {
		want(t, fmt.Sprintf("proxied login %d", i+1), e.loginFrom(t, proxy, fmt.Sprintf("rl-px-%d", i), via("203.0.113.50")), http.StatusOK, "")
	}
	wantRateLimited(t, "proxied login 21", e.loginFrom(t, proxy, "rl-px-x", via("203.0.113.50")))
	want(t, "another proxied client", e.loginFrom(t, proxy, "rl-px-y", via("203.0.113.51")), http.StatusOK, "")
}
