package wechat_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/internal/httpx/httpxtest"
	"github.com/shebao/sipay/wechat"
)

// fakeWeChat starts a server of fakeWeChatHandler(name) and returns its URL.
func fakeWeChat(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewServer(fakeWeChatHandler(name))
	t.Cleanup(srv.Close)
	return srv.URL
}

// fakeWeChatHandler answers jscode2session with an openid naming the
// server, and stable_token with a token naming it.
func fakeWeChatHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sns/jscode2session":
			fmt.Fprintf(w, `{"openid":"o-%s-%s","session_key":"k"}`, name, r.URL.Query().Get("js_code"))
		case "/cgi-bin/stable_token":
			fmt.Fprintf(w, `{"access_token":"tok-%s","expires_in":7200}`, name)
		default:
			http.NotFound(w, r)
		}
	})
}

// Two clients in one process each reach their own base URL: the host
// rewrite is per client (silenceper's URI modifier used to be process-wide,
// so the last client built redirected every other one).
func TestClientsKeepTheirOwnAPIBase(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	a := wechat.New("wxa", "secret-a", fakeWeChat(t, "a"), rdb)
	b := wechat.New("wxb", "secret-b", fakeWeChat(t, "b"), rdb)
	ctx := context.Background()
	for _, c := range []struct {
		client *wechat.Client
		want   string
	}{{a, "o-a-code1"}, {b, "o-b-code1"}, {a, "o-a-code1"}} {
		got, _, err := c.client.Code2Session(ctx, "code1")
		if err != nil {
			t.Fatalf("Code2Session: %v", err)
		}
		if got != c.want {
			t.Fatalf("openid=%q, want %q", got, c.want)
		}
	}
	for _, c := range []struct {
		client *wechat.Client
		want   string
	}{{a, "tok-a"}, {b, "tok-b"}} {
		got, err := c.client.AccessToken(ctx)
		if err != nil {
			t.Fatalf("AccessToken: %v", err)
		}
		if got != c.want {
			t.Fatalf("access token=%q, want %q", got, c.want)
		}
	}
}

// Logins call code2session concurrently. The client used
// http.DefaultTransport, which keeps 2 idle connections per host: a second
// burst of 16 logins dialed 14 again (TLS handshakes with api.weixin.qq.com
// in production). Its own transport keeps the first burst's connections.
func TestClientConcurrentCallsReuseTheirConnections(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	const wave = 16
	srv := httpxtest.NewServer(t, wave, fakeWeChatHandler("a"))
	c := wechat.New("wxa", "secret-a", srv.URL, rdb)
	first, second := srv.NewConnsPerWave(t, func(i int) error {
		code := fmt.Sprintf("code%d", i)
		got, _, err := c.Code2Session(context.Background(), code)
		if err == nil && got != "o-a-"+code {
			err = fmt.Errorf("openid=%q, want %q", got, "o-a-"+code)
		}
		return err
	})
	if first < wave {
		t.Fatalf("first wave opened %d connections, want %d (the server holds the calls until all are in)", first, wave)
	}
	if second > 2 {
		t.Errorf("second wave opened %d new connections, want at most 2: the first wave's were not kept", second)
	}
}
