package wechat_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/wechat"
)

// fakeWeChat answers jscode2session with an openid naming the server, and
// stable_token with a token naming it.
func fakeWeChat(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sns/jscode2session":
			fmt.Fprintf(w, `{"openid":"o-%s-%s","session_key":"k"}`, name, r.URL.Query().Get("js_code"))
		case "/cgi-bin/stable_token":
			fmt.Fprintf(w, `{"access_token":"tok-%s","expires_in":7200}`, name)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
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
