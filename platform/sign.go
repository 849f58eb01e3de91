package platform

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/shebao/sipay/service"
)

// Protocol headers.
const (
	HeaderApp            = "X-SI-App"
	HeaderTimestamp      = "X-SI-Timestamp"
	HeaderNonce          = "X-SI-Nonce"
	HeaderSignature      = "X-SI-Signature"
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderRequestID      = "X-Request-ID"
)

// Window is how far a signed message's timestamp may be from the receiver's
// clock, either way.
const Window = 300 * time.Second

// Nonce length bounds, in characters.
const (
	MinNonceLen = 16
	MaxNonceLen = 64
)

// Sign returns the lowercase hex HMAC-SHA256 of
// timestamp "\n" nonce "\n" METHOD "\n" path "\n" body under secret. path is
// the request target as sent (path plus "?query" when there is one).
func Sign(secret, ts, nonce, method, path string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'\n'})
	m.Write([]byte(nonce))
	m.Write([]byte{'\n'})
	m.Write([]byte(method))
	m.Write([]byte{'\n'})
	m.Write([]byte(path))
	m.Write([]byte{'\n'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports, in constant time, whether sig is the signature of the
// message under secret. It accepts only the lowercase hex form.
func Verify(secret, ts, nonce, method, path string, body []byte, sig string) bool {
	want := Sign(secret, ts, nonce, method, path, body)
	return hmac.Equal([]byte(want), []byte(sig))
}

// NewNonce returns 32 random lowercase hex characters.
func NewNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥1.24)
	return hex.EncodeToString(b[:])
}

// ValidNonce reports whether n has 16-64 characters from [A-Za-z0-9_-].
func ValidNonce(n string) bool {
	return service.ValidToken(n, MinNonceLen, MaxNonceLen, "-_")
}

// ParseTimestamp parses unix seconds written in decimal without sign or
// leading zeros beyond "0".
func ParseTimestamp(ts string) (time.Time, bool) {
	if ts == "" || len(ts) > 12 {
		return time.Time{}, false
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return time.Time{}, false
		}
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// Fresh reports whether t is within Window of now.
func Fresh(t, now time.Time) bool {
	d := now.Sub(t)
	return d <= Window && d >= -Window
}

// SignHeaders sets the four authentication headers on h for a message with
// the given method, request target and body, signed at now.
func SignHeaders(h http.Header, cr Credentials, now time.Time, nonce, method, path string, body []byte) {
	ts := strconv.FormatInt(now.Unix(), 10)
	h.Set(HeaderApp, cr.AppID)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderNonce, nonce)
	h.Set(HeaderSignature, Sign(cr.Secret, ts, nonce, method, path, body))
}

// RequestTarget returns the request target that was signed: the raw target
// of the request line when known, else the URL's path and query.
func RequestTarget(r *http.Request) string {
	if r.RequestURI != "" && r.RequestURI[0] == '/' {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}
