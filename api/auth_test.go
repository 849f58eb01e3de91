package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/wxsim"
	"github.com/shebao/sipay/wechat"
)

// testServer is the real router over SQLite, miniredis and the WeChat
// simulator reached through the real silenceper client.
type testServer struct {
	h     http.Handler
	clock *service.ManualClock
	sim   *wxsim.Sim
}

func newTestServer(tb testing.TB) *testServer {
	tb.Helper()
	clock := service.NewManualClock(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	sim := wxsim.New("wxtestapp", "testsecret", clock)
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	mr := miniredis.RunT(tb)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	db := modeltest.SQLite(tb, clock)
	auth := service.NewAuthService(service.AuthDeps{Users: model.NewUserStore(db),
		WeChat: wechat.New("wxtestapp", "testsecret", srv.URL, rdb), Sessions: cache.NewSessionStore(rdb, clock), Clock: clock, TTL: time.Hour})
	h := api.NewServer(api.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: auth,
		Limiter: cache.NewRateLimiter(rdb, clock), Ready: map[string]api.Pinger{"db": db}})
	return &testServer{h: h, clock: clock, sim: sim}
}

func (s *testServer) do(tb testing.TB, method, path, token, body string) (*httptest.ResponseRecorder, map[string]any) {
	tb.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body)).WithContext(context.Background())
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	var m map[string]any
	json.Unmarshal(w.Body.Bytes(), &m)
	return w, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestLogin(t *testing.T) {
	s := newTestServer(t)

	t.Run("OK", func(t *testing.T) {
		w, m := s.do(t, "POST", "/api/v1/auth/login", "", `{"code":"user-a"}`)
		if w.Code != 200 {
			t.Fatalf("status=%d body=%s, want 200", w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "session_key") {
			t.Fatalf("reply leaks session_key: %s", w.Body)
		}
		token, _ := m["token"].(string)
		if len(token) < 32 {
			t.Fatalf("token=%q, want an opaque random token", token)
		}
		if w.Header().Get("X-Request-ID") == "" {
			t.Fatalf("no X-Request-ID header")
		}
		w, me := s.do(t, "GET", "/api/v1/me", token, "")
		if w.Code != 200 || me["verified"] != false {
			t.Fatalf("GET /me: status=%d body=%s", w.Code, w.Body)
		}
		// The same code gives the same user.
		_, m2 := s.do(t, "POST", "/api/v1/auth/login", "", `{"code":"user-a"}`)
		if got, want := m2["user"].(map[string]any)["id"], m["user"].(map[string]any)["id"]; got != want {
			t.Fatalf("user id=%v, want %v", got, want)
		}
	})

	for _, tc := range []struct {
		name, code string
		status     int
		errCode    string
	}{
		{"InvalidCode", "invalid-1", 400, "invalid_code"},
		{"UsedCode", "used-1", 400, "invalid_code"},
		{"RateLimitedByWeChat", "ratelimit-1", 429, "rate_limited"},
		{"Blocked", "blocked-1", 403, "login_blocked"},
		{"WeChatSystemError", "syserr-1", 503, "wechat_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, m := s.do(t, "POST", "/api/v1/auth/login", "", `{"code":"`+tc.code+`"}`)
			if w.Code != tc.status || errCode(m) != tc.errCode {
				t.Fatalf("status=%d code=%q, want %d %q (body %s)", w.Code, errCode(m), tc.status, tc.errCode, w.Body)
			}
			if tc.status == 503 && w.Header().Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After")
			}
		})
	}

	t.Run("UnknownField", func(t *testing.T) {
		w, m := s.do(t, "POST", "/api/v1/auth/login", "", `{"code":"x","extra":1}`)
		if w.Code != 400 || errCode(m) != "unknown_field" {
			t.Fatalf("status=%d code=%q, want 400 unknown_field", w.Code, errCode(m))
		}
	})
	t.Run("BodyTooLarge", func(t *testing.T) {
		w, m := s.do(t, "POST", "/api/v1/auth/login", "", `{"code":"`+strings.Repeat("a", api.MaxBodyBytes)+`"}`)
		if w.Code != 400 || errCode(m) != "body_too_large" {
			t.Fatalf("status=%d code=%q, want 400 body_too_large", w.Code, errCode(m))
		}
	})
	t.Run("EmptyCode", func(t *testing.T) {
		w, m := s.do(t, "POST", "/api/v1/auth/login", "", `{"code":""}`)
		if w.Code != 400 || errCode(m) != "invalid_code" {
			t.Fatalf("status=%d code=%q, want 400 invalid_code", w.Code, errCode(m))
		}
	})
}

func TestSession(t *testing.T) {
	s := newTestServer(t)
	_, m := s.do(t, "POST", "/api/v1/auth/login", "", `{"code":"user-b"}`)
	token := m["token"].(string)

	t.Run("MissingToken", func(t *testing.T) {
		w, m := s.do(t, "GET", "/api/v1/me", "", "")
		if w.Code != 401 || errCode(m) != "unauthenticated" {
			t.Fatalf("status=%d code=%q, want 401 unauthenticated", w.Code, errCode(m))
		}
	})
	t.Run("CareMode", func(t *testing.T) {
		w, m := s.do(t, "PATCH", "/api/v1/me", token, `{"care_mode":true}`)
		if w.Code != 200 || m["care_mode"] != true {
			t.Fatalf("status=%d body=%s, want care_mode true", w.Code, w.Body)
		}
		_, me := s.do(t, "GET", "/api/v1/me", token, "")
		if me["care_mode"] != true {
			t.Fatalf("care_mode=%v after PATCH, want true", me["care_mode"])
		}
	})
	t.Run("ExpiredByClock", func(t *testing.T) {
		s.clock.Advance(time.Hour + time.Second)
		w, m := s.do(t, "GET", "/api/v1/me", token, "")
		if w.Code != 401 || errCode(m) != "unauthenticated" {
			t.Fatalf("status=%d code=%q, want 401 after the TTL", w.Code, errCode(m))
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	s := newTestServer(t)
	var last *httptest.ResponseRecorder
	for i := 0; i < 21; i++ {
		last, _ = s.do(t, "POST", "/api/v1/auth/login", "", `{"code":"user-c"}`)
	}
	if last.Code != 429 || last.Header().Get("Retry-After") == "" {
		t.Fatalf("21st login: status=%d Retry-After=%q, want 429 with Retry-After", last.Code, last.Header().Get("Retry-After"))
	}
}

func TestEnvelope(t *testing.T) {
	s := newTestServer(t)
	w, m := s.do(t, "GET", "/api/v1/nope", "", "")
	e, _ := m["error"].(map[string]any)
	if w.Code != 404 || e["code"] != "not_found" || e["request_id"] != w.Header().Get("X-Request-ID") {
		t.Fatalf("status=%d body=%s, want 404 envelope with the request id", w.Code, w.Body)
	}
	w, _ = s.do(t, "GET", "/readyz", "", "")
	if w.Code != 200 {
		t.Fatalf("readyz=%d, want 200", w.Code)
	}
}
