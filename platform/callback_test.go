package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
)

var cbCreds = platform.Credentials{AppID: "app-440300", Secret: "cb-secret"}

const acceptedEvent = `{"event_id":"evt_20250615_00000001","type":"posting.accepted","region":"440300",
"occurred_at":"2025-06-15T10:00:00+08:00","data":{"idempotency_key":"T20250615000001","status":"accepted",
"reference":"SI44030000000001","receipt":{"acceptance_no":"SL44030020250615000001","accepted_at":"2025-06-15T10:00:00+08:00",
"fiscal":{"code":"44012501","number":"0000000001","check_code":"A1B2C3","issued_on":"2025-06-15","amount_fen":120000}}}}`

type cbEnv struct {
	clock *service.ManualClock
	sink  *recordingSink
	h     *platform.Callbacks
}

func newCallbackEnv(tb testing.TB, nonces func(*service.ManualClock) platform.NonceStore) *cbEnv {
	tb.Helper()
	clock := service.NewManualClock(t0)
	if nonces == nil {
		nonces = func(c *service.ManualClock) platform.NonceStore { return platform.NewMemoryNonceStore(c) }
	}
	v := &platform.CallbackVerifier{Creds: map[string]platform.Credentials{testRegion: cbCreds}, Clock: clock, Nonces: nonces(clock)}
	sink := &recordingSink{}
	return &cbEnv{clock: clock, sink: sink, h: platform.CallbackHandler(v, sink, nil)}
}

// signedRequest builds a callback request signed with cr at ts.
func signedRequest(tb testing.TB, cr platform.Credentials, region string, ts time.Time, nonce, body string) *http.Request {
	tb.Helper()
	target := "/api/v1/platform/" + region + "/callback"
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	platform.SignHeaders(r.Header, cr, ts, nonce, http.MethodPost, target, []byte(body))
	r.SetPathValue("region", region)
	return r
}

type envelope struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

func serve(tb testing.TB, e *cbEnv, r *http.Request) (*httptest.ResponseRecorder, envelope) {
	tb.Helper()
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	var env envelope
	if w.Code != http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			tb.Fatalf("error body %q is not our envelope: %v", w.Body.String(), err)
		}
		if env.Error.Message == "" || env.Error.RequestID == "" {
			tb.Fatalf("envelope %+v lacks message or request_id", env)
		}
	}
	return w, env
}

func assertStatus(tb testing.TB, w *httptest.ResponseRecorder, env envelope, status int, code string) {
	tb.Helper()
	if w.Code != status || env.Error.Code != code {
		tb.Fatalf("got %d %q, want %d %q (body %s)", w.Code, env.Error.Code, status, code, w.Body.String())
	}
}

func TestCallback(t *testing.T) {
	t.Run("ValidIsHandledExactlyOnce", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		w, _ := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, platform.NewNonce(), acceptedEvent))
		if w.Code != http.StatusOK {
			t.Fatalf("status = %d, want 200 (%s)", w.Code, w.Body)
		}
		// Redelivery: same event id, fresh nonce and timestamp.
		e.clock.Advance(time.Minute)
		w, _ = serve(t, e, signedRequest(t, cbCreds, testRegion, e.clock.Now(), platform.NewNonce(), acceptedEvent))
		if w.Code != http.StatusOK {
			t.Fatalf("duplicate status = %d, want 200", w.Code)
		}
		evs := e.sink.Events()
		if len(evs) != 1 {
			t.Fatalf("sink calls = %d, want 1", len(evs))
		}
		ev := evs[0]
		if ev.Type != service.EventPostingAccepted || ev.IdempotencyKey != "T20250615000001" || !ev.Accepted ||
			ev.Result.Receipt == nil || ev.Result.Receipt.Fiscal.AmountFen != 120000 || ev.Result.Receipt.Fiscal.CheckCode != "A1B2C3" {
			t.Fatalf("event = %+v, want accepted T20250615000001 with receipt of 120000", ev)
		}
	})
	t.Run("ForgedSignature", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		forged := cbCreds
		forged.Secret = "guess"
		w, env := serve(t, e, signedRequest(t, forged, testRegion, t0, platform.NewNonce(), acceptedEvent))
		assertStatus(t, w, env, http.StatusUnauthorized, platform.CodeBadSignature)
		if n := len(e.sink.Events()); n != 0 {
			t.Fatalf("sink calls = %d, want 0", n)
		}
	})
	t.Run("TamperedBody", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		r := signedRequest(t, cbCreds, testRegion, t0, platform.NewNonce(), acceptedEvent)
		r.Body = http.NoBody
		r2 := httptest.NewRequest(http.MethodPost, r.URL.Path, strings.NewReader(strings.Replace(acceptedEvent, "120000", "1", 1)))
		r2.Header, r2.Pattern = r.Header, r.Pattern
		r2.SetPathValue("region", testRegion)
		w, env := serve(t, e, r2)
		assertStatus(t, w, env, http.StatusUnauthorized, platform.CodeBadSignature)
	})
	t.Run("MissingSignature", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		r := signedRequest(t, cbCreds, testRegion, t0, platform.NewNonce(), acceptedEvent)
		r.Header.Del(platform.HeaderSignature)
		r.Header.Set(platform.HeaderRequestID, "req-123")
		w, env := serve(t, e, r)
		assertStatus(t, w, env, http.StatusUnauthorized, platform.CodeBadSignature)
		if env.Error.RequestID != "req-123" {
			t.Fatalf("request_id = %q, want req-123", env.Error.RequestID)
		}
	})
	t.Run("StaleTimestamp", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		w, env := serve(t, e, signedRequest(t, cbCreds, testRegion, t0.Add(-301*time.Second), platform.NewNonce(), acceptedEvent))
		assertStatus(t, w, env, http.StatusUnauthorized, platform.CodeStaleRequest)
	})
	t.Run("ReplayedNonce", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		nonce := platform.NewNonce()
		if w, _ := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, nonce, acceptedEvent)); w.Code != http.StatusOK {
			t.Fatalf("first status = %d, want 200", w.Code)
		}
		w, env := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, nonce, acceptedEvent))
		assertStatus(t, w, env, http.StatusConflict, platform.CodeReplayed)
	})
	t.Run("UnknownRegion", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		w, env := serve(t, e, signedRequest(t, cbCreds, "310000", t0, platform.NewNonce(), acceptedEvent))
		assertStatus(t, w, env, http.StatusNotFound, platform.CodeUnknownRegion)
	})
	t.Run("RegionMismatch", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		body := strings.Replace(acceptedEvent, `"region":"440300"`, `"region":"310000"`, 1)
		w, env := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, platform.NewNonce(), body))
		assertStatus(t, w, env, http.StatusBadRequest, platform.CodeRegionMismatch)
	})
	t.Run("AcceptedWithoutReceipt", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		body := `{"event_id":"e1","type":"posting.accepted","region":"440300","data":{"idempotency_key":"K1","reference":"R"}}`
		w, env := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, platform.NewNonce(), body))
		assertStatus(t, w, env, http.StatusBadRequest, platform.CodeInvalidEvent)
	})
	t.Run("UnknownTypeAcknowledged", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		body := `{"event_id":"e2","type":"person.updated","region":"440300","data":{}}`
		if w, _ := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, platform.NewNonce(), body)); w.Code != http.StatusOK {
			t.Fatalf("status = %d, want 200", w.Code)
		}
		if n := len(e.sink.Events()); n != 0 {
			t.Fatalf("sink calls = %d, want 0", n)
		}
	})
	t.Run("SinkFailureIsRetried", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		e.sink.failNext = 1
		w, env := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, platform.NewNonce(), acceptedEvent))
		assertStatus(t, w, env, http.StatusInternalServerError, service.CodeInternal)
		// The redelivery must reach the sink: a failed event is not remembered.
		if w, _ := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, platform.NewNonce(), acceptedEvent)); w.Code != http.StatusOK {
			t.Fatalf("redelivery status = %d, want 200", w.Code)
		}
		if n := len(e.sink.Events()); n != 1 {
			t.Fatalf("sink calls = %d, want 1", n)
		}
	})
	t.Run("BodyTooLarge", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		body := `{"event_id":"` + strings.Repeat("x", 1<<20) + `"}`
		w, env := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, platform.NewNonce(), body))
		assertStatus(t, w, env, http.StatusRequestEntityTooLarge, platform.CodeBodyTooLarge)
	})
	t.Run("IdentityCheckCompleted", func(t *testing.T) {
		e := newCallbackEnv(t, nil)
		body := `{"event_id":"e3","type":"identity_check.completed","region":"440300","data":{"check_id":"ic_1","passed":false,"reason":"未授权"}}`
		if w, _ := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, platform.NewNonce(), body)); w.Code != http.StatusOK {
			t.Fatalf("status = %d, want 200", w.Code)
		}
		evs := e.sink.Events()
		if len(evs) != 1 || evs[0].CheckID != "ic_1" || evs[0].Accepted || evs[0].Reason != "未授权" {
			t.Fatalf("events = %+v, want one failed check ic_1", evs)
		}
	})
}

func TestCallback_RedisNonceStore(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	e := newCallbackEnv(t, func(*service.ManualClock) platform.NonceStore {
		return cache.NewSeenStore(rdb, "test:si:", 0)
	})
	nonce := platform.NewNonce()
	if w, _ := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, nonce, acceptedEvent)); w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", w.Code)
	}
	w, env := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, nonce, acceptedEvent))
	assertStatus(t, w, env, http.StatusConflict, platform.CodeReplayed)
	if w, _ := serve(t, e, signedRequest(t, cbCreds, testRegion, t0, platform.NewNonce(), acceptedEvent)); w.Code != http.StatusOK {
		t.Fatalf("duplicate event status = %d, want 200", w.Code)
	}
	if n := len(e.sink.Events()); n != 1 {
		t.Fatalf("sink calls = %d, want 1", n)
	}
}

func testNonceStore(t *testing.T, s platform.NonceStore, expire func(time.Duration)) {
	ctx := context.Background()
	key := "k-" + platform.NewNonce()
	if seen, err := s.Seen(ctx, key); err != nil || seen {
		t.Fatalf("Seen before = %v,%v, want false,nil", seen, err)
	}
	if fresh, err := s.Remember(ctx, key, time.Minute); err != nil || !fresh {
		t.Fatalf("first Remember = %v,%v, want true,nil", fresh, err)
	}
	if fresh, err := s.Remember(ctx, key, time.Minute); err != nil || fresh {
		t.Fatalf("second Remember = %v,%v, want false,nil", fresh, err)
	}
	if seen, err := s.Seen(ctx, key); err != nil || !seen {
		t.Fatalf("Seen after = %v,%v, want true,nil", seen, err)
	}
	if expire == nil {
		return
	}
	expire(time.Minute + time.Second)
	if fresh, err := s.Remember(ctx, key, time.Minute); err != nil || !fresh {
		t.Fatalf("Remember after expiry = %v,%v, want true,nil", fresh, err)
	}
}

func TestNonceStores(t *testing.T) {
	t.Run("Memory", func(t *testing.T) {
		c := service.NewManualClock(t0)
		testNonceStore(t, platform.NewMemoryNonceStore(c), c.Advance)
	})
	t.Run("Miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		testNonceStore(t, cache.NewSeenStore(rdb, "si:", 0), mr.FastForward)
	})
	t.Run("Redis", func(t *testing.T) {
		addr := os.Getenv("TEST_REDIS_ADDR")
		if addr == "" {
			t.Skip("TEST_REDIS_ADDR not set")
		}
		rdb := redis.NewClient(&redis.Options{Addr: addr, DB: 15})
		t.Cleanup(func() { _ = rdb.Close() })
		if err := rdb.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("redis ping: %v", err)
		}
		testNonceStore(t, cache.NewSeenStore(rdb, "test:si:", 0), nil)
	})
}

// FuzzCallback feeds arbitrary bodies and header values through the
// verifier and parser. It must never panic, must answer only documented
// statuses, and must call the sink only for a correctly signed body.
func FuzzCallback(f *testing.F) {
	f.Add([]byte(acceptedEvent), true, "", int64(0))
	f.Add([]byte(`{"event_id":"e3","type":"identity_check.completed","region":"440300","data":{"check_id":"ic_1","passed":true}}`), true, "", int64(0))
	f.Add([]byte(`{"event_id":"e1","type":"posting.rejected","region":"440300","data":{"idempotency_key":"K","reason":"x"}}`), true, "", int64(10))
	f.Add([]byte(`{"event_id":1}`), true, "", int64(0))
	f.Add([]byte("\xff\xfe"), false, "deadbeef", int64(-400))
	f.Add([]byte(`null`), true, "", int64(0))
	f.Fuzz(func(t *testing.T, body []byte, sign bool, sig string, skew int64) {
		e := newCallbackEnv(t, nil)
		r := signedRequest(t, cbCreds, testRegion, t0.Add(time.Duration(skew)*time.Second), platform.NewNonce(), "")
		r.Body = http.NoBody
		target := r.URL.RequestURI()
		req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		req.SetPathValue("region", testRegion)
		if sign {
			req.Header.Set(platform.HeaderSignature, platform.Sign(cbCreds.Secret, req.Header.Get(platform.HeaderTimestamp),
				req.Header.Get(platform.HeaderNonce), http.MethodPost, target, body))
		} else {
			req.Header.Set(platform.HeaderSignature, sig)
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusConflict, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d not documented", w.Code)
		}
		signedOK := sign || sig == platform.Sign(cbCreds.Secret, req.Header.Get(platform.HeaderTimestamp),
			req.Header.Get(platform.HeaderNonce), http.MethodPost, target, body)
		if n := len(e.sink.Events()); n > 0 && (!signedOK || skew < -300 || skew > 300) {
			t.Fatalf("sink called for an unauthenticated callback")
		}
	})
}
