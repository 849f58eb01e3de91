// Package wxsim simulates the WeChat mini-program server APIs the product
// calls (api.weixin.qq.com): jscode2session, access tokens, and face
// verification. It behaves as WeChat does: it checks appid and secret and
// access tokens, and answers WeChat's JSON with errcode/errmsg.
//
// Special login codes trigger each documented error:
//
//	invalid-…   40029 invalid code
//	used-…      40163 code been used
//	ratelimit-… 45011 minute quota reached
//	blocked-…   40226 high-risk user, login blocked
//	syserr-…    -1    system error
//
// Any other code logs in; the openid is derived from the code, so the same
// code always gives the same user.
package wxsim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/shebao/sipay/service"
)

// Sim is the mini-program API simulator.
type Sim struct {
	AppID  string
	Secret string
	Clock  service.Clock

	mu     sync.Mutex
	tokens map[string]time.Time // access token → expiry
	mux    *http.ServeMux
}

// New returns a simulator for one mini-program.
func New(appID, secret string, clock service.Clock) *Sim {
	s := &Sim{AppID: appID, Secret: secret, Clock: clock, tokens: map[string]time.Time{}, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /sns/jscode2session", s.code2session)
	s.mux.HandleFunc("GET /cgi-bin/token", s.token)
	s.mux.HandleFunc("POST /cgi-bin/stable_token", s.stableToken)
	return s
}

// Handle mounts more endpoints on the simulator (face verification).
func (s *Sim) Handle(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// WriteJSON writes v as WeChat does (HTTP 200 even for errors).
func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

// WriteErr writes a WeChat errcode/errmsg answer.
func WriteErr(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, map[string]any{"errcode": code, "errmsg": msg})
}

// OpenID returns the openid the simulator gives a login code.
func (s *Sim) OpenID(code string) string {
	h := sha256.Sum256([]byte(s.AppID + "|" + code))
	return "o" + base64.RawURLEncoding.EncodeToString(h[:])[:27]
}

func (s *Sim) code2session(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("appid") != s.AppID || q.Get("secret") != s.Secret {
		WriteErr(w, 40125, "invalid appsecret")
		return
	}
	if q.Get("grant_type") != "authorization_code" {
		WriteErr(w, 40002, "invalid grant_type")
		return
	}
	code := q.Get("js_code")
	switch {
	case code == "" || strings.HasPrefix(code, "invalid-"):
		WriteErr(w, 40029, "invalid code")
	case strings.HasPrefix(code, "used-"):
		WriteErr(w, 40163, "code been used")
	case strings.HasPrefix(code, "ratelimit-"):
		WriteErr(w, 45011, "api minute-quota reach limit  mustslower  retry next minute")
	case strings.HasPrefix(code, "blocked-"):
		WriteErr(w, 40226, "code blocked")
	case strings.HasPrefix(code, "syserr-"):
		WriteErr(w, -1, "system error")
	default:
		key := make([]byte, 16)
		rand.Read(key)
		WriteJSON(w, map[string]any{"openid": s.OpenID(code), "session_key": base64.StdEncoding.EncodeToString(key),
			"unionid": "u" + s.OpenID(code)[1:]})
	}
}

func (s *Sim) issueToken() (string, int) {
	b := make([]byte, 24)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	// Tokens live in wall time: a demo that moves the business clock
	// forward must not invalidate the cached token.
	s.tokens[tok] = time.Now().Add(2 * time.Hour)
	s.mu.Unlock()
	return tok, 7200
}

func (s *Sim) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("grant_type") != "client_credential" || q.Get("appid") != s.AppID || q.Get("secret") != s.Secret {
		WriteErr(w, 40125, "invalid appsecret")
		return
	}
	tok, exp := s.issueToken()
	WriteJSON(w, map[string]any{"access_token": tok, "expires_in": exp})
}

func (s *Sim) stableToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		WriteErr(w, 47001, "data format error")
		return
	}
	if req.GrantType != "client_credential" || req.AppID != s.AppID || req.Secret != s.Secret {
		WriteErr(w, 40125, "invalid appsecret")
		return
	}
	tok, exp := s.issueToken()
	WriteJSON(w, map[string]any{"access_token": tok, "expires_in": exp})
}

// CheckToken reports whether r carries a live access_token query parameter;
// when not it writes WeChat's 40001 answer.
func (s *Sim) CheckToken(w http.ResponseWriter, r *http.Request) bool {
	tok := r.URL.Query().Get("access_token")
	s.mu.Lock()
	exp, ok := s.tokens[tok]
	s.mu.Unlock()
	if !ok || !time.Now().Before(exp) {
		WriteErr(w, 40001, "invalid credential, access_token is invalid or not latest")
		return false
	}
	return true
}
