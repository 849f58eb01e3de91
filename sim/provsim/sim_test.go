package provsim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/provsim"
)

var (
	t0    = time.Date(2025, 6, 15, 2, 0, 0, 0, time.UTC)
	creds = platform.Credentials{AppID: "app-1", Secret: "secret-1"}
)

const profileBody = `{"region":"440300","person":{"name":"张三","id_type":"resident_id","id_number":"110101199003074514"}}`

func newSim(tb testing.TB) (*provsim.Sim, *service.ManualClock, http.Handler) {
	tb.Helper()
	clock := service.NewManualClock(t0)
	s := provsim.New(provsim.Config{Creds: map[string]platform.Credentials{"440300": creds}, Clock: clock, Seed: 1})
	return s, clock, s.Handler()
}

// do sends a request signed with cr at ts and returns the recorder.
func do(tb testing.TB, h http.Handler, cr platform.Credentials, ts time.Time, nonce, method, target, body string) *httptest.ResponseRecorder {
	tb.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	platform.SignHeaders(r.Header, cr, ts, nonce, method, target, []byte(body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func errCode(tb testing.TB, w *httptest.ResponseRecorder) string {
	tb.Helper()
	var e platform.WireError
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		tb.Fatalf("body %q: %v", w.Body.String(), err)
	}
	return e.Error.Code
}

func TestSim_Authentication(t *testing.T) {
	_, _, h := newSim(t)
	t.Run("SignedResponse", func(t *testing.T) {
		nonce := platform.NewNonce()
		w := do(t, h, creds, t0, nonce, "POST", "/si/v1/profile", profileBody)
		if w.Code != http.StatusOK {
			t.Fatalf("status = %d, want 200 (%s)", w.Code, w.Body)
		}
		if got := w.Header().Get(platform.HeaderNonce); got != nonce {
			t.Fatalf("response nonce = %q, want echo %q", got, nonce)
		}
		if !platform.Verify(creds.Secret, w.Header().Get(platform.HeaderTimestamp), nonce, "POST", "/si/v1/profile",
			w.Body.Bytes(), w.Header().Get(platform.HeaderSignature)) {
			t.Fatal("response signature does not verify")
		}
	})
	t.Run("BadSignature", func(t *testing.T) {
		bad := creds
		bad.Secret = "nope"
		w := do(t, h, bad, t0, platform.NewNonce(), "POST", "/si/v1/profile", profileBody)
		if w.Code != http.StatusUnauthorized || errCode(t, w) != "bad_signature" {
			t.Fatalf("got %d %s, want 401 bad_signature", w.Code, w.Body)
		}
	})
	t.Run("UnknownApp", func(t *testing.T) {
		other := platform.Credentials{AppID: "app-x", Secret: "s"}
		w := do(t, h, other, t0, platform.NewNonce(), "POST", "/si/v1/profile", profileBody)
		if w.Code != http.StatusUnauthorized || errCode(t, w) != "unknown_app" {
			t.Fatalf("got %d %s, want 401 unknown_app", w.Code, w.Body)
		}
	})
	t.Run("Stale", func(t *testing.T) {
		w := do(t, h, creds, t0.Add(-6*time.Minute), platform.NewNonce(), "POST", "/si/v1/profile", profileBody)
		if w.Code != http.StatusUnauthorized || errCode(t, w) != "stale_request" {
			t.Fatalf("got %d %s, want 401 stale_request", w.Code, w.Body)
		}
	})
	t.Run("Replayed", func(t *testing.T) {
		nonce := platform.NewNonce()
		if w := do(t, h, creds, t0, nonce, "POST", "/si/v1/profile", profileBody); w.Code != http.StatusOK {
			t.Fatalf("first status = %d, want 200", w.Code)
		}
		w := do(t, h, creds, t0, nonce, "POST", "/si/v1/profile", profileBody)
		if w.Code != http.StatusConflict || errCode(t, w) != "replayed" {
			t.Fatalf("got %d %s, want 409 replayed", w.Code, w.Body)
		}
	})
	t.Run("OtherRegionForbidden", func(t *testing.T) {
		body := strings.Replace(profileBody, "440300", "310000", 1)
		w := do(t, h, creds, t0, platform.NewNonce(), "POST", "/si/v1/profile", body)
		if w.Code != http.StatusForbidden || errCode(t, w) != "region_not_allowed" {
			t.Fatalf("got %d %s, want 403 region_not_allowed", w.Code, w.Body)
		}
	})
}

func TestSim_ControlEndpoints(t *testing.T) {
	s, clock, h := newSim(t)
	post := func(path, body string) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", path, strings.NewReader(body)))
		if w.Code != http.StatusOK {
			t.Fatalf("POST %s = %d %s, want 200", path, w.Code, w.Body)
		}
	}
	post("/sim/platform/down", `{"from":"2025-06-15T02:00:00Z","to":"2025-06-15T03:00:00Z"}`)
	w := do(t, h, creds, clock.Now(), platform.NewNonce(), "POST", "/si/v1/profile", profileBody)
	if w.Code != http.StatusServiceUnavailable || errCode(t, w) != "platform_down" {
		t.Fatalf("got %d %s, want 503 platform_down", w.Code, w.Body)
	}
	clock.Advance(time.Hour)
	if w := do(t, h, creds, clock.Now(), platform.NewNonce(), "POST", "/si/v1/profile", profileBody); w.Code != http.StatusOK {
		t.Fatalf("after window: %d, want 200", w.Code)
	}
	post("/sim/platform/faults", `{"error_rate":1}`)
	if w := do(t, h, creds, clock.Now(), platform.NewNonce(), "POST", "/si/v1/profile", profileBody); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("error rate 1: %d, want 503", w.Code)
	}
	post("/sim/platform/reset", ``)
	if w := do(t, h, creds, clock.Now(), platform.NewNonce(), "POST", "/si/v1/profile", profileBody); w.Code != http.StatusOK {
		t.Fatalf("after reset: %d, want 200", w.Code)
	}
	if n := len(s.Bookings()); n != 0 {
		t.Fatalf("bookings = %d, want 0", n)
	}
}

func TestSim_ErrorRateIsRepeatable(t *testing.T) {
	run := func() []int {
		s, clock, h := newSim(t)
		s.SetErrorRate(0.5)
		var codes []int
		for i := 0; i < 20; i++ {
			codes = append(codes, do(t, h, creds, clock.Now(), platform.NewNonce(), "POST", "/si/v1/profile", profileBody).Code)
		}
		return codes
	}
	a, b := run(), run()
	fails := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("run differs at %d: %d vs %d", i, a[i], b[i])
		}
		if a[i] == http.StatusServiceUnavailable {
			fails++
		}
	}
	if fails == 0 || fails == len(a) {
		t.Fatalf("failures = %d of %d, want some but not all", fails, len(a))
	}
}
