// Package redact keeps secrets, query strings and unbounded user input out
// of the logs. One slog.Handler wraps the real one: every string, error and
// Stringer value that reaches a log line is scrubbed of the configured
// secrets, has the query string cut from any URL (silenceper and net/http
// errors carry the full request URL, with appid, secret, js_code and
// access_token in it) and is clipped to a bounded length.
package redact

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"unicode/utf8"
)

const queryRemoved = "?[query removed]"

// MaxValue is the longest string value written to a log line, in bytes.
const MaxValue = 1024

// minSecret is the shortest configured value treated as a secret: shorter
// ones would mask ordinary text.
const minSecret = 6

var (
	// urlQuery matches the query (and fragment) of an absolute URL.
	urlQuery = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^\s?#"'<>]*)[?#][^\s"'<>]*`)
	// secretParam matches name=value pairs whose value is a credential, in
	// query strings, form bodies and echoed requests.
	secretParam = regexp.MustCompile(`(?i)\b(secret|appsecret|access_token|token|js_code|code|password|passwd|sign|signature|key|apiv3_key)=([^&\s"'<>]*)`)
	// bearer matches an Authorization header value.
	bearer = regexp.MustCompile(`(?i)\b(bearer|WECHATPAY2-SHA256-RSA2048|hmac-sha256)\s+[^\s"',]+`)
)

// String scrubs s: secrets masked, URL query strings dropped, credential
// parameters masked, and the result clipped to MaxValue bytes.
func String(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= minSecret && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	if strings.Contains(s, "://") {
		s = urlQuery.ReplaceAllStringFunc(s, func(m string) string {
			if strings.HasSuffix(m, queryRemoved[:len(queryRemoved)-len(" removed]")]) {
				return m // already scrubbed (two handlers in a row)
			}
			host := strings.Index(m, "://") + 3
			return m[:host+strings.IndexAny(m[host:], "?#")] + queryRemoved
		})
	}
	if strings.Contains(s, "=") {
		s = secretParam.ReplaceAllString(s, "$1=***")
	}
	s = bearer.ReplaceAllString(s, "$1 ***")
	return Clip(s, MaxValue)
}

// Clip cuts s to at most n bytes on a rune boundary, marking the cut.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// The result, marker included, stays within n so clipping twice
	// changes nothing.
	cut := n - 24
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…[%d bytes cut]", len(s)-cut)
}

// Handler scrubs every attribute value before the wrapped handler sees it.
type Handler struct {
	next    slog.Handler
	secrets func() []string
}

// NewHandler wraps next. secrets is called per record, so secrets set after
// the logger was built (the simulator's development credentials) count too.
func NewHandler(next slog.Handler, secrets func() []string) *Handler {
	if secrets == nil {
		secrets = func() []string { return nil }
	}
	return &Handler{next: next, secrets: secrets}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	secrets := h.secrets()
	out := slog.NewRecord(r.Time, r.Level, String(r.Message, secrets), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(a, secrets))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	secrets := h.secrets()
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = scrubAttr(a, secrets)
	}
	return &Handler{next: h.next.WithAttrs(clean), secrets: h.secrets}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), secrets: h.secrets}
}

func scrubAttr(a slog.Attr, secrets []string) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, String(v.String(), secrets))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, ga := range g {
			clean[i] = scrubAttr(ga, secrets)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, String(x.Error(), secrets))
		case fmt.Stringer:
			return slog.String(a.Key, String(x.String(), secrets))
		case []byte:
			return slog.String(a.Key, String(string(x), secrets))
		case []string:
			clean := make([]string, len(x))
			for i, s := range x {
				clean[i] = String(s, secrets)
			}
			return slog.Any(a.Key, clean)
		default:
			return slog.String(a.Key, String(fmt.Sprint(x), secrets))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
