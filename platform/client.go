package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shebao/sipay/internal/httpx"
	"github.com/shebao/sipay/service"
)

// Error codes of the client's own (non-platform) errors.
const (
	// CodePlatformUnavailable marks a transient failure: timeout, connection
	// error, 5xx, 429, or a response whose signature does not verify.
	CodePlatformUnavailable = "platform_unavailable"
	// CodePlatformNotConfigured means no credentials exist for the region.
	CodePlatformNotConfigured = "platform_not_configured"
)

// maxBody bounds every body read from the network.
const maxBody = 1 << 20

// Client implements service.Platform over the protocol of
// docs/platform-protocol.md.
//
// Errors: *service.PlatformRejection for definite refusals (a signed 422,
// or 404 posting_not_found/check_not_found); *service.PlatformConfigError
// for the other signed 4xx answers (400, 401, 403, 409); *service.Error with code
// platform_unavailable (KindUnavailable) for anything transient; code
// platform_not_configured (KindInternal) for a region without credentials.
type Client struct {
	cfg   Config
	clock service.Clock
	hc    *http.Client
	log   *slog.Logger
}

var _ service.Platform = (*Client)(nil)

// NewClient returns a client. hc may be nil (a client of its own with
// httpx.NewTransport, which keeps connections alive for the concurrent
// posting workers; the per-request timeout comes from cfg.Timeout); logger
// may be nil.
func NewClient(cfg Config, clock service.Clock, hc *http.Client, logger *slog.Logger) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		return nil, errors.New("platform: clock is required")
	}
	if hc == nil {
		hc = &http.Client{Transport: httpx.NewTransport()}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Client{cfg: cfg, clock: clock, hc: hc, log: logger}, nil
}

func unavailable(format string, args ...any) error {
	return &service.Error{Kind: service.KindUnavailable, Code: CodePlatformUnavailable,
		Message: "社保平台暂时不可用，请稍后再试", RetryAfter: 30 * time.Second, Err: fmt.Errorf(format, args...)}
}

// call performs one signed exchange and decodes a 2xx body into out. It
// returns the HTTP status of a 2xx answer.
func (c *Client) call(ctx context.Context, region, method, path string, in any, idemKey string, out any) (int, error) {
	cr, ok := c.cfg.Lookup(region)
	if !ok {
		return 0, &service.Error{Kind: service.KindInternal, Code: CodePlatformNotConfigured,
			Message: "该地区暂未开通线上缴费", Err: fmt.Errorf("platform: no credentials for region %q", region)}
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, fmt.Errorf("platform: encode %s %s: %w", method, path, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(cr.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("platform: build %s %s: %w", method, path, err)
	}
	target := req.URL.RequestURI()
	nonce := NewNonce()
	SignHeaders(req.Header, cr, c.clock.Now(), nonce, method, target, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	req.Header.Set("Accept", "application/json")
	if idemKey != "" {
		req.Header.Set(HeaderIdempotencyKey, idemKey)
	}
	op := method + " " + path
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, unavailable("platform %s: %s: %w", region, op, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, unavailable("platform %s: %s: read: %w", region, op, err)
	}
	if len(rb) > maxBody {
		return 0, unavailable("platform %s: %s: response larger than %d bytes", region, op, maxBody)
	}
	if err := c.verifyResponse(resp, cr, nonce, method, target, rb); err != nil {
		c.log.Warn("platform response refused", "region", region, "op", op, "status", resp.StatusCode, "err", err)
		return 0, unavailable("platform %s: %s: status %d: %w", region, op, resp.StatusCode, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err := json.Unmarshal(rb, out); err != nil {
			return 0, unavailable("platform %s: %s: decode: %w", region, op, err)
		}
		return resp.StatusCode, nil
	}
	var we WireError
	_ = json.Unmarshal(rb, &we)
	if resp.StatusCode >= 500 || we.Error.Retryable || resp.StatusCode == http.StatusTooManyRequests ||
		resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode < 400 {
		return 0, unavailable("platform %s: %s: status %d code %q", region, op, resp.StatusCode, we.Error.Code)
	}
	code := we.Error.Code
	if code == "" {
		code = fmt.Sprintf("http_%d", resp.StatusCode)
	}
	// Only a business refusal (422) or a definite "no such record" (404
	// posting_not_found / check_not_found) is a "no". Everything else that
	// is signed and 4xx says our side is wrong (400 invalid_request, 401,
	// 403 region_not_allowed, 409 idempotency_conflict, an unknown route):
	// the outcome of what we asked is not known, and no money may move.
	if resp.StatusCode == http.StatusUnprocessableEntity ||
		resp.StatusCode == http.StatusNotFound && (code == service.RejectPostingNotFound || code == service.RejectCheckNotFound) {
		return 0, &service.PlatformRejection{Code: code, Reason: we.Error.Message}
	}
	c.log.Error("platform configuration fault", "region", region, "op", op, "status", resp.StatusCode, "code", code)
	return 0, &service.PlatformConfigError{Status: resp.StatusCode, Code: code, Reason: we.Error.Message}
}

// verifyResponse checks the platform's signature on a response: same app,
// our request's nonce echoed, a fresh timestamp, and an HMAC over the
// request's method and target and the response body.
func (c *Client) verifyResponse(resp *http.Response, cr Credentials, nonce, method, target string, body []byte) error {
	h := resp.Header
	ts, sig := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if sig == "" {
		return errors.New("unsigned response")
	}
	if h.Get(HeaderApp) != cr.AppID {
		return errors.New("response for another app")
	}
	if h.Get(HeaderNonce) != nonce {
		return errors.New("response nonce does not echo the request nonce")
	}
	t, ok := ParseTimestamp(ts)
	if !ok || !Fresh(t, c.clock.Now()) {
		return errors.New("stale or malformed response timestamp")
	}
	if !Verify(cr.Secret, ts, nonce, method, target, body, sig) {
		return errors.New("bad response signature")
	}
	return nil
}

// FindProfile implements service.Platform.
func (c *Client) FindProfile(ctx context.Context, region string, p service.PersonRef) (service.InsuredProfile, error) {
	var w WireProfile
	if _, err := c.call(ctx, region, http.MethodPost, "/si/v1/profile", WirePersonRequest{Region: region, Person: ToWirePerson(p)}, "", &w); err != nil {
		return service.InsuredProfile{}, err
	}
	if w.Region != region {
		return service.InsuredProfile{}, unavailable("platform %s: profile for region %q", region, w.Region)
	}
	return toProfile(w), nil
}

// AssessBase implements service.Platform.
func (c *Client) AssessBase(ctx context.Context, region string, p service.PersonRef) (service.Fen, error) {
	var w WireBaseAssessment
	if _, err := c.call(ctx, region, http.MethodPost, "/si/v1/base-assessment", WirePersonRequest{Region: region, Person: ToWirePerson(p)}, "", &w); err != nil {
		return 0, err
	}
	if w.BaseFen <= 0 {
		return 0, unavailable("platform %s: base assessment without a positive base", region)
	}
	return service.Fen(w.BaseFen), nil
}

// StartIdentityCheck implements service.Platform. Face verification is done
// with WeChat, not the platform, and is refused here.
func (c *Client) StartIdentityCheck(ctx context.Context, region string, ic service.IdentityCheck) (string, error) {
	switch ic.Method {
	case service.IdentitySMS, service.IdentityCardPwd, service.IdentityNational:
	default:
		return "", service.Invalid("unsupported_identity_method", "不支持的身份核验方式",
			service.FieldError{Field: "method", Code: "unsupported", Message: "不支持的身份核验方式"})
	}
	var w WireIdentityStarted
	in := WireIdentityStart{Region: region, Method: ic.Method, Person: ToWirePerson(ic.Person), Phone: ic.Phone}
	if _, err := c.call(ctx, region, http.MethodPost, "/si/v1/identity-checks", in, "", &w); err != nil {
		return "", err
	}
	if w.CheckID == "" {
		return "", unavailable("platform %s: identity check without id", region)
	}
	return w.CheckID, nil
}

// FinishIdentityCheck implements service.Platform. A wrong secret is
// (false, nil); an unknown, expired or locked check is a
// *service.PlatformRejection.
func (c *Client) FinishIdentityCheck(ctx context.Context, region, checkID, secret string) (bool, error) {
	var w WireIdentityFinished
	path := "/si/v1/identity-checks/" + url.PathEscape(checkID) + "/finish"
	if _, err := c.call(ctx, region, http.MethodPost, path, WireIdentityFinish{Region: region, Secret: secret}, "", &w); err != nil {
		return false, err
	}
	return w.Passed, nil
}

// PostPayment implements service.Platform. A synchronous refusal returns a
// result with status rejected together with a *service.PlatformRejection.
func (c *Client) PostPayment(ctx context.Context, p service.Posting) (service.PostingResult, error) {
	if !ValidIdempotencyKey(p.IdempotencyKey) {
		return service.PostingResult{}, &service.Error{Kind: service.KindInternal, Code: service.CodeInternal,
			Message: "系统错误", Err: fmt.Errorf("platform: bad idempotency key %q", p.IdempotencyKey)}
	}
	var w WirePostingResult
	_, err := c.call(ctx, p.Region, http.MethodPost, "/si/v1/postings", ToWirePosting(p), p.IdempotencyKey, &w)
	if err != nil {
		var rej *service.PlatformRejection
		if errors.As(err, &rej) {
			return service.PostingResult{Status: service.PostingRejected, Reason: rej.Reason}, err
		}
		return service.PostingResult{}, err
	}
	return c.postingResult(p.Region, p.IdempotencyKey, w)
}

// QueryPosting implements service.Platform. A key the platform never
// received is a *service.PlatformRejection with code posting_not_found: the
// caller may resend the posting with the same key. A rejected posting is
// returned as a result with status rejected and a nil error.
func (c *Client) QueryPosting(ctx context.Context, region, idempotencyKey string) (service.PostingResult, error) {
	if !ValidIdempotencyKey(idempotencyKey) {
		return service.PostingResult{}, &service.Error{Kind: service.KindInternal, Code: service.CodeInternal,
			Message: "系统错误", Err: fmt.Errorf("platform: bad idempotency key %q", idempotencyKey)}
	}
	var w WirePostingResult
	path := "/si/v1/postings/" + url.PathEscape(idempotencyKey) + "?region=" + url.QueryEscape(region)
	if _, err := c.call(ctx, region, http.MethodGet, path, nil, "", &w); err != nil {
		return service.PostingResult{}, err
	}
	r, err := c.postingResult(region, idempotencyKey, w)
	if service.IsPermanent(err) {
		return r, nil
	}
	return r, err
}

// VoidPosting implements service.Platform: POST /si/v1/postings/{key}/void.
// The answer is status voided, or the posting as it stands (accepted with
// its receipt, or pending). Anything else is an unknown outcome.
func (c *Client) VoidPosting(ctx context.Context, region, idempotencyKey string) (service.PostingResult, error) {
	if !ValidIdempotencyKey(idempotencyKey) {
		return service.PostingResult{}, &service.Error{Kind: service.KindInternal, Code: service.CodeInternal,
			Message: "系统错误", Err: fmt.Errorf("platform: bad idempotency key %q", idempotencyKey)}
	}
	var w WirePostingResult
	path := "/si/v1/postings/" + url.PathEscape(idempotencyKey) + "/void"
	if _, err := c.call(ctx, region, http.MethodPost, path, WireVoid{Region: region, IdempotencyKey: idempotencyKey}, idempotencyKey, &w); err != nil {
		return service.PostingResult{}, err
	}
	if w.IdempotencyKey != idempotencyKey {
		return service.PostingResult{}, unavailable("platform %s: void answer for key %q, want %q", region, w.IdempotencyKey, idempotencyKey)
	}
	if service.PostingStatus(w.Status) == service.PostingVoided {
		return service.PostingResult{Status: service.PostingVoided, Reason: w.Reason}, nil
	}
	if st := service.PostingStatus(w.Status); st != service.PostingAccepted && st != service.PostingPending {
		return service.PostingResult{}, unavailable("platform %s: void of %s answered status %q", region, idempotencyKey, w.Status)
	}
	return c.postingResult(region, idempotencyKey, w)
}

func (c *Client) postingResult(region, key string, w WirePostingResult) (service.PostingResult, error) {
	if w.IdempotencyKey != key {
		return service.PostingResult{}, unavailable("platform %s: posting answer for key %q, want %q", region, w.IdempotencyKey, key)
	}
	r, err := ToPostingResult(w)
	if err != nil {
		return service.PostingResult{}, unavailable("platform %s: posting %s: %w", region, key, err)
	}
	if r.Status == service.PostingRejected {
		code := w.Code
		if code == "" {
			code = string(service.PostingRejected)
		}
		return r, &service.PlatformRejection{Code: code, Reason: r.Reason}
	}
	return r, nil
}

// ValidIdempotencyKey reports whether k has 1-64 characters from
// [A-Za-z0-9_-|*] (the out_trade_no alphabet of WeChat Pay).
func ValidIdempotencyKey(k string) bool {
	return service.ValidToken(k, 1, 64, "-_|*")
}
