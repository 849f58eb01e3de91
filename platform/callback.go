package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/shebao/sipay/service"
)

// Callback error codes (our envelope, snake_case).
const (
	CodeUnknownRegion  = "unknown_region"
	CodeBadSignature   = "bad_signature"
	CodeStaleRequest   = "stale_request"
	CodeReplayed       = "replayed"
	CodeBodyTooLarge   = "body_too_large"
	CodeInvalidEvent   = "invalid_event"
	CodeRegionMismatch = "region_mismatch"
)

// EventTTL is how long a handled event id is remembered for the fast-path
// dedupe. Platforms redeliver for at most 72 hours.
const EventTTL = 7 * 24 * time.Hour

// CallbackError is a refusal of an inbound callback, with its HTTP status.
type CallbackError struct {
	Status  int
	Code    string
	Message string // Chinese, for the envelope
	Err     error  // cause, for logs
}

func (e *CallbackError) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Err.Error()
	}
	return e.Code
}

// Unwrap returns the cause.
func (e *CallbackError) Unwrap() error { return e.Err }

// CallbackVerifier authenticates callbacks from provincial platforms.
type CallbackVerifier struct {
	// Creds maps each region that may call us to its credentials. See
	// Config.RegionCreds.
	Creds map[string]Credentials
	// Clock is the receiver's clock for the ±300 s window.
	Clock service.Clock
	// Nonces refuses replayed nonces and remembers handled event ids.
	Nonces NonceStore
}

// Verify authenticates a callback for region: known region (404
// unknown_region), all headers and a valid signature (401 bad_signature), a
// timestamp within Window (401 stale_request), and a nonce not seen within
// the window (409 replayed). target is the request target as received.
// Errors are *CallbackError.
func (v *CallbackVerifier) Verify(ctx context.Context, region string, h http.Header, method, target string, body []byte) error {
	cr, ok := v.Creds[region]
	if !ok || !cr.Valid() {
		return &CallbackError{Status: http.StatusNotFound, Code: CodeUnknownRegion, Message: "未知地区"}
	}
	app, ts, nonce, sig := h.Get(HeaderApp), h.Get(HeaderTimestamp), h.Get(HeaderNonce), h.Get(HeaderSignature)
	if app == "" || ts == "" || nonce == "" || sig == "" {
		return &CallbackError{Status: http.StatusUnauthorized, Code: CodeBadSignature, Message: "签名无效",
			Err: errors.New("missing authentication header")}
	}
	if app != cr.AppID || !ValidNonce(nonce) {
		return &CallbackError{Status: http.StatusUnauthorized, Code: CodeBadSignature, Message: "签名无效",
			Err: errors.New("wrong app id or malformed nonce")}
	}
	t, ok := ParseTimestamp(ts)
	if !ok {
		return &CallbackError{Status: http.StatusUnauthorized, Code: CodeBadSignature, Message: "签名无效",
			Err: errors.New("malformed timestamp")}
	}
	// The signature is checked before freshness so that an unauthenticated
	// caller learns nothing about our clock.
	if !Verify(cr.Secret, ts, nonce, method, target, body, sig) {
		return &CallbackError{Status: http.StatusUnauthorized, Code: CodeBadSignature, Message: "签名无效",
			Err: errors.New("signature mismatch")}
	}
	if !Fresh(t, v.Clock.Now()) {
		return &CallbackError{Status: http.StatusUnauthorized, Code: CodeStaleRequest, Message: "请求时间戳已过期",
			Err: fmt.Errorf("timestamp %s outside ±%s", ts, Window)}
	}
	fresh, err := v.Nonces.Remember(ctx, "nonce:"+region+":"+nonce, 2*Window)
	if err != nil {
		return &CallbackError{Status: http.StatusServiceUnavailable, Code: service.CodeUnavailable,
			Message: "服务暂时不可用，请稍后重试", Err: err}
	}
	if !fresh {
		return &CallbackError{Status: http.StatusConflict, Code: CodeReplayed, Message: "重复的请求"}
	}
	return nil
}

// ParseEvent parses a verified callback body sent for region. known is false
// for event types this version does not handle (they are acknowledged and
// ignored). Errors are *CallbackError (400); with region_mismatch the parsed
// event is returned too (for an alert only, never to act on).
func ParseEvent(region string, body []byte) (e service.PlatformEvent, known bool, err error) {
	bad := func(format string, args ...any) (service.PlatformEvent, bool, error) {
		return service.PlatformEvent{}, false, &CallbackError{Status: http.StatusBadRequest, Code: CodeInvalidEvent,
			Message: "回调内容无效", Err: fmt.Errorf(format, args...)}
	}
	if !utf8.Valid(body) {
		return bad("body is not UTF-8")
	}
	var w WireEvent
	if err := json.Unmarshal(body, &w); err != nil {
		return bad("decode: %w", err)
	}
	if w.EventID == "" || len(w.EventID) > 128 {
		return bad("event_id must have 1-128 characters")
	}
	e = service.PlatformEvent{EventID: w.EventID, Type: w.Type, Region: w.Region, Raw: body}
	d := w.Data
	switch w.Type {
	case service.EventIdentityCheckCompleted:
		if d.CheckID == "" || d.Passed == nil {
			return bad("identity_check.completed needs check_id and passed")
		}
		e.CheckID, e.Accepted, e.Reason = d.CheckID, *d.Passed, d.Reason
	case service.EventPostingAccepted, service.EventPostingRejected:
		if !ValidIdempotencyKey(d.IdempotencyKey) {
			return bad("%s needs a valid idempotency_key", w.Type)
		}
		want := string(service.PostingAccepted)
		if w.Type == service.EventPostingRejected {
			want = string(service.PostingRejected)
		}
		if d.Status == "" {
			d.Status = want
		}
		if d.Status != want {
			return bad("%s with status %q", w.Type, d.Status)
		}
		r, err := ToPostingResult(WirePostingResult{IdempotencyKey: d.IdempotencyKey, Status: d.Status,
			Reference: d.Reference, Reason: d.Reason, Receipt: d.Receipt, MutualAidFen: d.MutualAidFen})
		if err != nil {
			return bad("%s: %w", w.Type, err)
		}
		e.IdempotencyKey, e.Result, e.Reason = d.IdempotencyKey, r, d.Reason
		e.Accepted = w.Type == service.EventPostingAccepted
	default:
		return e, false, nil
	}
	if w.Region != region {
		// The parsed event is returned with the error so the service can
		// raise an alert about it; it must not act on it.
		return e, true, &CallbackError{Status: http.StatusBadRequest, Code: CodeRegionMismatch,
			Message: "地区不一致", Err: fmt.Errorf("event region %q sent to %q", w.Region, region)}
	}
	return e, true, nil
}

// Callbacks serves POST /api/v1/platform/{region}/callback.
type Callbacks struct {
	v    *CallbackVerifier
	sink service.PlatformEventHandler
	log  *slog.Logger
}

// CallbackHandler returns the callback endpoint. As an http.Handler it takes
// the region from r.PathValue("region"); from gin call ServeCallback with
// c.Param("region").
func CallbackHandler(v *CallbackVerifier, sink service.PlatformEventHandler, logger *slog.Logger) *Callbacks {
	if v == nil || sink == nil || v.Clock == nil || v.Nonces == nil {
		panic("platform: CallbackHandler needs a verifier with clock and nonce store, and a sink")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Callbacks{v: v, sink: sink, log: logger}
}

// ServeHTTP implements http.Handler.
func (c *Callbacks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.ServeCallback(w, r, r.PathValue("region"))
}

// ServeCallback handles one callback for region. Replies: 200
// {"received":true} (also for duplicates and unknown event types), or our
// error envelope with 400/401/404/405/409/413/500/503.
func (c *Callbacks) ServeCallback(w http.ResponseWriter, r *http.Request, region string) {
	rid := r.Header.Get(HeaderRequestID)
	if !validRequestID(rid) {
		rid = NewNonce()
	}
	w.Header().Set(HeaderRequestID, rid)
	fail := func(e *CallbackError) {
		lvl := slog.LevelWarn
		if e.Status >= 500 {
			lvl = slog.LevelError
		}
		c.log.Log(r.Context(), lvl, "platform callback refused", "region", region, "code", e.Code,
			"status", e.Status, "request_id", rid, "err", e.Err)
		writeEnvelope(w, e.Status, e.Code, e.Message, rid)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(&CallbackError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "不支持的请求方法"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(&CallbackError{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge, Message: "请求体过大"})
			return
		}
		fail(&CallbackError{Status: http.StatusBadRequest, Code: CodeInvalidEvent, Message: "回调内容无效", Err: err})
		return
	}
	ctx := r.Context()
	if err := c.v.Verify(ctx, region, r.Header, r.Method, RequestTarget(r), body); err != nil {
		var ce *CallbackError
		if !errors.As(err, &ce) {
			ce = &CallbackError{Status: http.StatusInternalServerError, Code: service.CodeInternal, Message: "系统错误", Err: err}
		}
		fail(ce)
		return
	}
	ev, known, err := ParseEvent(region, body)
	// The verifier checked the signature with region's credentials, and
	// ParseEvent requires the event's region to be region: the service then
	// requires all three to be the batch's region.
	ev.URLRegion, ev.CredentialRegion = region, region
	if err != nil {
		var ce *CallbackError
		errors.As(err, &ce)
		if ce.Code == CodeRegionMismatch && ev.Type != service.EventIdentityCheckCompleted {
			// Refused, and the service records an alert without acting: it
			// compares the three regions with the batch's.
			if herr := c.sink.HandlePlatformEvent(ctx, ev); herr != nil {
				c.log.Error("platform callback: region mismatch not recorded", "region", region, "err", herr)
			}
		}
		fail(ce)
		return
	}
	if !known {
		c.log.Info("platform callback of unknown type acknowledged", "region", region, "type", ev.Type,
			"event_id", ev.EventID, "request_id", rid)
		writeReceived(w)
		return
	}
	evKey := "event:" + region + ":" + ev.EventID
	if seen, err := c.v.Nonces.Seen(ctx, evKey); err == nil && seen {
		c.log.Info("platform callback duplicate", "region", region, "event_id", ev.EventID, "request_id", rid)
		writeReceived(w)
		return
	}
	if err := c.sink.HandlePlatformEvent(ctx, ev); err != nil {
		fail(&CallbackError{Status: http.StatusInternalServerError, Code: service.CodeInternal,
			Message: "处理失败，请稍后重试", Err: err})
		return
	}
	if _, err := c.v.Nonces.Remember(ctx, evKey, EventTTL); err != nil {
		c.log.Warn("platform callback: remember event id", "region", region, "event_id", ev.EventID, "err", err)
	}
	c.log.Info("platform callback handled", "region", region, "type", ev.Type, "event_id", ev.EventID, "request_id", rid)
	writeReceived(w)
}

func writeReceived(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"received":true}`))
}

func writeEnvelope(w http.ResponseWriter, status int, code, message, rid string) {
	type body struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}
	b, _ := json.Marshal(struct {
		Error body `json:"error"`
	}{body{code, message, rid}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// validRequestID accepts 1-128 characters from [A-Za-z0-9._-], so a caller's
// request id can be echoed and logged safely.
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
