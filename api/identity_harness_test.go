package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/app/apptest"
	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/wxsim"
	"github.com/shebao/sipay/wechat"
)

// harness is the real router over real stores, Redis sessions, the real
// WeChat clients and the WeChat simulator over HTTP; only the provincial
// platform is a fake.
type harness struct {
	db       *model.DB
	clock    *service.ManualClock
	srv      *api.Server
	sim      *wxsim.Sim
	face     *wxsim.FaceSim
	wx       *wechat.Client
	platform *fakePlatform
	identity *service.IdentityService
	logs     *apptest.SyncBuffer
}

type harnessOptions struct {
	dailyAttempts int
	legacy        bool
}

func newHarness(tb testing.TB, db *model.DB, clock *service.ManualClock, o harnessOptions) *harness {
	tb.Helper()
	if o.dailyAttempts == 0 {
		o.dailyAttempts = 5
	}
	mr := miniredis.RunT(tb)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	tb.Cleanup(func() { rdb.Close() })

	sim := wxsim.New("wxtest00000000001", "test-secret", clock)
	face := wxsim.RegisterFace(sim)
	ts := httptest.NewServer(sim)
	tb.Cleanup(ts.Close)
	wx := wechat.New("wxtest00000000001", "test-secret", ts.URL, rdb)

	ring, err := pii.NewKeyring(pii.Key{ID: "k1", Secret: bytes.Repeat([]byte{0x5a}, 32)})
	if err != nil {
		tb.Fatal(err)
	}
	users := model.NewUserStore(db)
	persons := model.NewPersonStore(db, ring)
	family := model.NewFamilyStore(db, ring)
	checks := model.NewIdentityCheckStore(db, ring)
	platform := &fakePlatform{checks: map[string]string{}}
	identity := service.NewIdentityService(users, persons, family)

	logs := &apptest.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := api.NewServer(api.Deps{
		Logger:   log,
		Auth:     service.NewAuthService(service.AuthDeps{Users: users, WeChat: wx, Sessions: cache.NewSessionStore(rdb, clock), Clock: clock, TTL: 30 * 24 * time.Hour}),
		Identity: identity,
		Face: service.NewFaceService(service.FaceDeps{Config: service.FaceConfig{DailyAttempts: o.dailyAttempts, LegacyV1: o.legacy},
			Users: users, Persons: persons, Attempts: model.NewFaceAttemptStore(db, ring), WeChat: wechat.NewFaceClient(wx), Clock: clock}),
		AltIdentity: service.NewAltIdentityService(service.AltIdentityDeps{Rules: regionRules{}, Platform: platform, Checks: checks,
			Users: users, Persons: persons, Clock: clock}),
		Family: service.NewFamilyService(service.FamilyDeps{Family: family, Checks: checks, Users: users, Persons: persons, Clock: clock}),
	})
	return &harness{db: db, clock: clock, srv: srv, sim: sim, face: face, wx: wx, platform: platform, identity: identity, logs: logs}
}

// regionRules is the region catalogue of the tests.
type regionRules struct{}

func (regionRules) IdentityMethods(region string) ([]string, bool) {
	switch region {
	case "beijing":
		return []string{service.IdentityFace, service.IdentitySMS, service.IdentityCardPwd, service.IdentityNational}, true
	case "shanghai":
		return []string{service.IdentityFace, service.IdentityNational}, true
	}
	return nil, false
}

// fakePlatform accepts the secret "123456" for every check.
type fakePlatform struct {
	mu     sync.Mutex
	n      int
	checks map[string]string // check id → method
}

func (p *fakePlatform) FindProfile(context.Context, string, service.PersonRef) (service.InsuredProfile, error) {
	return service.InsuredProfile{}, errors.New("not used")
}
func (p *fakePlatform) AssessBase(context.Context, string, service.PersonRef) (service.Fen, error) {
	return 0, errors.New("not used")
}
func (p *fakePlatform) StartIdentityCheck(_ context.Context, region string, c service.IdentityCheck) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	id := fmt.Sprintf("pc-%d", p.n)
	p.checks[id] = c.Method
	return id, nil
}
func (p *fakePlatform) FinishIdentityCheck(_ context.Context, region, checkID, secret string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.checks[checkID]; !ok {
		return false, &service.PlatformRejection{Code: "unknown_check", Reason: "unknown check"}
	}
	return secret == "123456", nil
}
func (p *fakePlatform) PostPayment(context.Context, service.Posting) (service.PostingResult, error) {
	return service.PostingResult{}, errors.New("not used")
}
func (p *fakePlatform) QueryPosting(context.Context, string, string) (service.PostingResult, error) {
	return service.PostingResult{}, errors.New("not used")
}
func (p *fakePlatform) VoidPosting(context.Context, string, string) (service.PostingResult, error) {
	return service.PostingResult{}, errors.New("not used")
}

// reply is a decoded JSON answer.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r reply) str(path ...string) string {
	var v any = r.body
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func (r reply) code() string { return r.str("error", "code") }

func (h *harness) do(tb testing.TB, method, path, token string, body any) reply {
	tb.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.srv.ServeHTTP(rec, req)
	r := reply{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &r.body); err != nil {
			r.body = nil
		}
	}
	return r
}

// login logs in with a wx.login code and returns the session token and the
// user's openid.
func (h *harness) login(tb testing.TB, code string) (token, openID string) {
	tb.Helper()
	r := h.do(tb, "POST", "/api/v1/auth/login", "", map[string]string{"code": code})
	if r.status != http.StatusOK {
		tb.Fatalf("login: status %d, want 200: %s", r.status, r.raw)
	}
	return r.str("token"), h.sim.OpenID(code)
}

// verifyByFace runs the whole 2.0 flow and returns the result reply.
func (h *harness) verifyByFace(tb testing.TB, token, name, idNumber string) reply {
	tb.Helper()
	r := h.do(tb, "POST", "/api/v1/identity/face/start", token, map[string]string{"name": name, "id_type": "resident_id", "id_number": idNumber})
	if r.status != http.StatusOK {
		tb.Fatalf("face start: status %d, want 200: %s", r.status, r.raw)
	}
	return h.do(tb, "POST", "/api/v1/identity/face/result", token, map[string]string{"verify_id": r.str("verify_id")})
}

func wantStatus(tb testing.TB, r reply, status int, code string) {
	tb.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		tb.Fatalf("got %d %q, want %d %q: %s", r.status, r.code(), status, code, r.raw)
	}
}

// residentID builds a valid resident ID number from 17 digits.
var residentID = service.CompleteResidentID
