package securitytest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// faultFront is a proxy in front of the simulators that, once a mode is
// set, answers every outbound call of the app (WeChat, WeChat Pay, the
// platform) with a failure that echoes the whole request back: URL with
// its query (appid, secret, js_code, access_token), headers (the WeChat Pay
// Authorization signature, the platform HMAC) and body. Whatever the
// clients put into their errors, a careless log line would then carry
// every credential.
type faultFront struct {
	mode atomic.Value // string: "" passes through
	srv  *httptest.Server
}

func newFaultFront(tb testing.TB) (*faultFront, func(string) string) {
	f := &faultFront{}
	f.mode.Store("")
	return f, func(simURL string) string {
		target, _ := url.Parse(simURL)
		proxy := httputil.NewSingleHostReverseProxy(target)
		f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			echo := fmt.Sprintf("%s %s://%s%s headers=%v body=%s", r.Method, "http", r.Host, r.URL.RequestURI(), r.Header, body)
			switch f.mode.Load().(string) {
			case "":
				r.Body = io.NopCloser(strings.NewReader(string(body)))
				proxy.ServeHTTP(w, r)
			case "close":
				hj, _ := w.(http.Hijacker)
				conn, _, _ := hj.Hijack()
				conn.Close()
			case "500":
				http.Error(w, echo, http.StatusInternalServerError)
			case "400json":
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"errcode":40001,"errmsg":%q,"code":"PARAM_ERROR","message":%q}`, echo, echo)
			case "garbage":
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `<html>%s`, echo)
			}
		}))
		tb.Cleanup(f.srv.Close)
		return f.srv.URL
	}
}

// TestNoSecretInLogsOnOutboundFailures drives every outbound client through
// every failure the fault front can produce, over the public API, and
// checks that no log line holds a configured secret, key or token (the
// WeChat AppSecret used to be logged with silenceper's error URL), and that
// no log line carries a URL query string.
func TestNoSecretInLogsOnOutboundFailures(t *testing.T) {
	front, hook := newFaultFront(t)
	e := newEnv(t, envOptions{simFront: hook})

	// Healthy: a verified user with a quote and an order, and WeChat's
	// access token in the cache.
	tok := e.login(t, "secrets-user")
	e.verify(t, tok, "柏杨", residentID("11010519760606123"))
	q := e.do(t, "POST", "/api/v1/quotes", tok, quoteBody("self"))
	want(t, "quote", q, http.StatusCreated, "")
	order := e.order(t, tok, q.str("id"), "secrets-order-1")
	accessTokens := e.cachedWeChatTokens(t)

	for _, mode := range []string{"close", "500", "400json", "garbage"} {
		front.mode.Store(mode)
		// WeChat: code2session, and the access token (face verification).
		e.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"code": "fresh-" + mode})
		e.clearWeChatTokens(t)
		e.do(t, "POST", "/api/v1/identity/face/start", tok, map[string]string{"name": "柏杨", "id_type": "resident_id", "id_number": residentID("11010519760606123")})
		// Platform: quote and insured profile.
		e.do(t, "POST", "/api/v1/quotes", tok, quoteBody("self"))
		e.do(t, "GET", "/api/v1/insured?region=jiangsu", tok, nil)
		// WeChat Pay: prepay (new order), pay again, query and close.
		front.mode.Store("")
		q2 := e.do(t, "POST", "/api/v1/quotes", tok, quoteBody("self"))
		front.mode.Store(mode)
		e.send(t, req{method: "POST", path: "/api/v1/orders", token: tok, body: map[string]string{"quote_id": q2.str("id")},
			header: map[string]string{"Idempotency-Key": "secrets-" + mode}})
		no := order.str("order_no")
		e.do(t, "POST", "/api/v1/orders/"+no+"/batches/1/pay", tok, nil)
		e.do(t, "GET", "/api/v1/orders/"+no, tok, nil)
		e.do(t, "POST", "/api/v1/orders/"+no+"/cancel", tok, nil)
		front.mode.Store("")
	}

	logs := e.logs.String()
	if !strings.Contains(logs, `"level":"ERROR"`) && !strings.Contains(logs, `"level":"WARN"`) {
		t.Fatalf("no failure was logged; the fault front did not reach the clients:\n%.2000s", logs)
	}
	secrets := append(e.app.Secrets(), accessTokens...)
	secrets = append(secrets, e.app.Sims.Keys.APIv3Key, tok)
	checked := 0
	for _, s := range secrets {
		if len(s) < 6 {
			continue
		}
		checked++
		if i := strings.Index(logs, s); i >= 0 {
			t.Errorf("a log line holds a secret (%.4s…): %s", s, lineAt(logs, i))
		}
	}
	if checked < 5 {
		t.Fatalf("only %d secrets to look for; the test lost its teeth", checked)
	}
	for _, bad := range []string{"secret=", "access_token=", "js_code="} {
		if i := strings.Index(logs, bad); i >= 0 {
			t.Errorf("a log line holds %q: %s", bad, lineAt(logs, i))
		}
	}
}

// TestLoginCodeIsValidated: a code that is not [A-Za-z0-9_-] (a control
// character, or query parameters smuggled into WeChat's URL) gets 400 and
// never reaches WeChat.
func TestLoginCodeIsValidated(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, code := range []string{"a\u0001b", "x&appid=wx1&secret=abc", "x y", "码", strings.Repeat("a", 129)} {
		r := e.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"code": code})
		want(t, fmt.Sprintf("login %q", code), r, http.StatusBadRequest, "invalid_code")
	}
}

func (e *env) cachedWeChatTokens(tb testing.TB) []string {
	tb.Helper()
	ctx := context.Background()
	keys, err := e.app.Redis.Keys(ctx, "wx:*").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, k := range keys {
		if v, err := e.app.Redis.Get(ctx, k).Result(); err == nil {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no WeChat access token cached")
	}
	return out
}

func (e *env) clearWeChatTokens(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	keys, _ := e.app.Redis.Keys(ctx, "wx:*").Result()
	for _, k := range keys {
		e.app.Redis.Del(ctx, k)
	}
}

func lineAt(s string, i int) string {
	start := strings.LastIndex(s[:i], "\n") + 1
	end := strings.Index(s[i:], "\n")
	if end < 0 {
		end = len(s) - i
	}
	return s[start : i+end]
}
