// Package wechat calls the WeChat mini-program server APIs: code2session
// through silenceper/wechat/v2 and the access token it manages. The face
// verification client (hand-written: silenceper has none) lives here too.
//
// WECHAT_API_BASE is honoured per client: each Client's http.RoundTripper
// rewrites https://api.weixin.qq.com to its base, so the real SDK client
// talks to the simulator in development and CI, and two clients in one
// process (tests) never see each other's base.
package wechat

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	wx "github.com/silenceper/wechat/v2"
	"github.com/silenceper/wechat/v2/miniprogram"
	miniConfig "github.com/silenceper/wechat/v2/miniprogram/config"

	"github.com/shebao/sipay/internal/httpx"
	"github.com/shebao/sipay/service"
)

// Client is the mini-program API client.
type Client struct {
	mp      *miniprogram.MiniProgram
	appID   string
	apiBase string
	http    *http.Client
}

// APIHost is the real mini-program API host that a base URL stands in for.
const APIHost = "https://api.weixin.qq.com"

// timeout bounds every call to WeChat.
const timeout = 5 * time.Second

// New returns a client for the mini-program appID/secret. apiBase replaces
// https://api.weixin.qq.com (empty keeps the real host). The access token is
// shared through Redis so several instances reuse one token.
func New(appID, secret, apiBase string, rdb redis.UniversalClient) *Client {
	apiBase = strings.TrimRight(apiBase, "/")
	if apiBase == "" {
		apiBase = APIHost
	}
	var rt http.RoundTripper = httpx.NewTransport()
	if apiBase != APIHost {
		rt = &rewriteHost{base: apiBase, next: rt}
	}
	installSDKTransport()
	mp := wx.NewWechat().GetMiniProgram(&miniConfig.Config{
		AppID: appID, AppSecret: secret, UseStableAK: true, Cache: &redisCache{rdb: rdb},
	})
	return &Client{mp: mp, appID: appID, apiBase: apiBase, http: &http.Client{Transport: rt, Timeout: timeout}}
}

// AppID returns the mini-program appid.
func (c *Client) AppID() string { return c.appID }

// AccessToken returns a valid access token (cached in Redis).
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	ctx, cancel := c.sdkContext(ctx)
	defer cancel()
	return c.mp.GetContext().GetAccessTokenContext(ctx)
}

// APIBase returns the base URL standing in for https://api.weixin.qq.com.
func (c *Client) APIBase() string { return c.apiBase }

// HTTPClient returns the HTTP client used for WeChat calls.
func (c *Client) HTTPClient() *http.Client { return c.http }

// WeChat code2session error codes and how they reach the user: the one
// mapping table.
var loginErrors = map[int64]*service.Error{
	40029: {Kind: service.KindInvalid, Code: "invalid_code", Message: "登录凭证无效或已过期，请重新进入小程序"},
	40163: {Kind: service.KindInvalid, Code: "invalid_code", Message: "登录凭证已被使用，请重新进入小程序"},
	45011: {Kind: service.KindRateLimited, Code: "rate_limited", Message: "登录过于频繁，请一分钟后再试", RetryAfter: time.Minute},
	40226: {Kind: service.KindForbidden, Code: "login_blocked", Message: "该微信账号存在风险，登录已被拦截，请联系微信客服"},
	-1:    {Kind: service.KindUnavailable, Code: "wechat_unavailable", Message: "微信服务繁忙，请稍后重试", RetryAfter: 5 * time.Second},
}

// Code2Session exchanges a wx.login code for the user's openid and unionid.
// session_key never leaves this function.
func (c *Client) Code2Session(ctx context.Context, code string) (openID, unionID string, err error) {
	// silenceper puts the code into the URL unescaped; the service accepts
	// only [A-Za-z0-9_-] codes, and escaping keeps any other caller safe.
	ctx, cancel := c.sdkContext(ctx)
	defer cancel()
	res, err := c.mp.GetAuth().Code2SessionContext(ctx, url.QueryEscape(code))
	if res.ErrCode != 0 {
		if e, ok := loginErrors[res.ErrCode]; ok {
			cp := *e
			cp.Err = err
			return "", "", &cp
		}
		return "", "", &service.Error{Kind: service.KindUnavailable, Code: "wechat_error",
			Message: "微信登录失败，请稍后重试", RetryAfter: 5 * time.Second, Err: err}
	}
	if err != nil || res.OpenID == "" {
		if err == nil {
			err = errors.New("code2session: empty openid")
		}
		return "", "", &service.Error{Kind: service.KindUnavailable, Code: "wechat_unavailable",
			Message: "暂时无法连接微信，请稍后重试", RetryAfter: 5 * time.Second, Err: err}
	}
	return res.OpenID, res.UnionID, nil
}
