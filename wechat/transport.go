package wechat

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/silenceper/wechat/v2/util"

	"github.com/shebao/sipay/internal/httpx"
)

// silenceper/wechat/v2 (v2.1.10) sends every request through its one
// process-wide util.DefaultHTTPClient and has no HTTP client per instance
// (Wechat.SetHTTPClient sets that global too). The only per-call channel it
// keeps is the request context. So the global is set once, to a client
// whose transport takes the calling Client's RoundTripper from the context
// (sdkContext); a request without one (another user of silenceper in the
// process) goes to the real host, through one transport of the package's
// own (httpx.NewTransport, not http.DefaultTransport's 2 idle connections
// per host). Clients never change the global again, and the URI modifier is
// never used.

type transportKey struct{}

var installOnce sync.Once

func installSDKTransport() {
	installOnce.Do(func() {
		util.DefaultHTTPClient = &http.Client{Transport: contextTransport{fallback: httpx.NewTransport()}}
	})
}

// sdkContext carries c's transport to silenceper's requests and bounds them
// by the client timeout.
func (c *Client) sdkContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithValue(ctx, transportKey{}, c.http.Transport), timeout)
}

// contextTransport sends a request with the RoundTripper of its context,
// or with fallback when it has none.
type contextTransport struct{ fallback http.RoundTripper }

func (t contextTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if rt, ok := r.Context().Value(transportKey{}).(http.RoundTripper); ok && rt != nil {
		return rt.RoundTrip(r)
	}
	return t.fallback.RoundTrip(r)
}

// rewriteHost sends requests for https://api.weixin.qq.com to base instead
// (WECHAT_API_BASE: the simulator).
type rewriteHost struct {
	base string
	next http.RoundTripper
}

func (t *rewriteHost) RoundTrip(r *http.Request) (*http.Response, error) {
	rest, ok := strings.CutPrefix(r.URL.String(), APIHost)
	if !ok {
		return t.next.RoundTrip(r)
	}
	target, err := url.Parse(t.base + rest)
	if err != nil {
		return nil, err
	}
	nr := r.Clone(r.Context()) // a RoundTripper must not change r
	nr.URL, nr.Host = target, ""
	return t.next.RoundTrip(nr)
}
