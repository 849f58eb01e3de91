// Package provsim is an in-process provincial social-security platform that
// speaks the protocol of docs/platform-protocol.md. It verifies our request
// signatures, timestamps and nonces, signs its responses and callbacks,
// derives deterministic data from ID numbers, keeps a ledger keyed by
// idempotency key, and injects failures on demand (Go methods or HTTP
// control endpoints under /sim/platform/).
//
// It is for tests and the demo only: the control endpoints are
// unauthenticated.
package provsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/regions"
	"github.com/shebao/sipay/service"
)

// Posting modes.
const (
	ModeAccept  = "accept"  // book and answer accepted (default)
	ModePending = "pending" // answer pending; accept later by callback
	ModeReject  = "reject"  // refuse every new posting for good
)

// Config configures a simulator.
type Config struct {
	// Creds maps a region to the credentials its callers use. BaseURL is
	// ignored.
	Creds map[string]platform.Credentials
	// Shared, when valid, serves every region not in Creds.
	Shared platform.Credentials
	// Clock drives timestamps, expiries, down windows and receipts.
	Clock service.Clock
	// CallbackURL returns our callback URL for a region; nil disables
	// callbacks.
	CallbackURL func(region string) string
	// HTTPClient sends callbacks; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger may be nil.
	Logger *slog.Logger
	// Seed makes the error-rate draws and SMS codes repeatable.
	Seed uint64
	// PendingDelay, when positive, accepts pending postings by callback
	// after that much real time. Zero leaves them for CompletePending.
	PendingDelay time.Duration
	// Regions are the region rules the platform applies: the prepayment
	// window it accepts, the bounds its assessed bases and arrears keep to,
	// and the rates its arrears are priced at. Nil loads the shipped ones
	// (regions.Load).
	Regions []service.Region
}

// Sim is the simulator. Its methods are safe for concurrent use.
type Sim struct {
	cfg Config
	log *slog.Logger
	hc  *http.Client

	mu        sync.Mutex
	rng       *rand.Rand
	errorRate float64
	latency   time.Duration
	down      []window
	failNext  int
	mode      string
	rejCode   string
	rejReason string
	// dark: postings are booked but every posting answer (post, query,
	// void) is a 503 — the platform books and goes dark.
	dark bool
	// forbid: every API request is answered 403 region_not_allowed (a
	// revoked grant: a configuration fault on the caller's side).
	forbid bool

	nonces   map[string]time.Time // app|nonce → expiry
	ledger   map[string]*entry
	order    []string
	attempts map[string]int
	booked   map[string]map[string]bool // personKey → month → booked (accepted or pending)
	aidSpent map[string]int64           // mutual-aid account → fen drawn by booked or pending postings
	checks   map[string]*check
	events   []*event
	seq      int
}

type window struct{ from, to time.Time }

// entry is one ledger row: the first answer to an idempotency key, replayed
// for every resend with the same body.
type entry struct {
	key     string
	region  string
	hash    [32]byte
	posting platform.WirePosting
	status  int // HTTP status of the stored answer
	result  platform.WirePostingResult
	errBody *platform.WireError
	at      time.Time
	voided  bool // voided before (or instead of) being booked: never booked afterwards
	aidKey  string
	aidFen  int64 // mutual aid drawn by this posting while booked or pending
}

type check struct {
	id, region, method string
	person             platform.WirePerson
	code               string
	expires            time.Time
	failures           int
	passed             bool
}

type event struct {
	id, region, typ string
	body            []byte
	delivered       bool
	deliveries      int
}

// New returns a simulator.
func New(cfg Config) *Sim {
	if cfg.Clock == nil {
		cfg.Clock = service.SystemClock{}
	}
	if cfg.Regions == nil {
		rs, err := regions.Load()
		if err != nil {
			panic("provsim: " + err.Error())
		}
		cfg.Regions = rs
	}
	s := &Sim{cfg: cfg, log: cfg.Logger, hc: cfg.HTTPClient}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hc == nil {
		s.hc = &http.Client{Timeout: 10 * time.Second}
	}
	s.Reset()
	return s
}

// Reset forgets the ledger, checks, events and faults.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rng = rand.New(rand.NewPCG(s.cfg.Seed, s.cfg.Seed^0x5eed))
	s.errorRate, s.latency, s.down, s.failNext = 0, 0, nil, 0
	s.dark, s.forbid = false, false
	s.aidSpent = map[string]int64{}
	s.mode, s.rejCode, s.rejReason = ModeAccept, "", ""
	s.nonces = map[string]time.Time{}
	s.ledger = map[string]*entry{}
	s.order = nil
	s.attempts = map[string]int{}
	s.booked = map[string]map[string]bool{}
	s.checks = map[string]*check{}
	s.events = nil
}

// Handler serves the protocol under /si/v1/ and the control endpoints under
// /sim/platform/.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /si/v1/profile", s.api(s.handleProfile))
	mux.Handle("POST /si/v1/base-assessment", s.api(s.handleBase))
	mux.Handle("POST /si/v1/identity-checks", s.api(s.handleStartCheck))
	mux.Handle("POST /si/v1/identity-checks/{check_id}/finish", s.api(s.handleFinishCheck))
	mux.Handle("POST /si/v1/postings", s.api(s.handlePost))
	mux.Handle("GET /si/v1/postings/{key}", s.api(s.handleQuery))
	mux.Handle("POST /si/v1/postings/{key}/void", s.api(s.handleVoid))
	s.controlRoutes(mux)
	return mux
}

// call is an authenticated API request.
type call struct {
	r       *http.Request
	cr      platform.Credentials
	regions map[string]bool // nil: any region
	nonce   string
	body    []byte
}

// reply is what an API handler answers.
type reply struct {
	status int
	body   any
}

func errReply(status int, code, msg string, retryable bool) reply {
	return reply{status, platform.WireError{Error: platform.WireErrorBody{Code: code, Message: msg, Retryable: retryable}}}
}

func (s *Sim) findApp(app string) (platform.Credentials, map[string]bool, bool) {
	var regions map[string]bool
	var cr platform.Credentials
	for r, c := range s.cfg.Creds {
		if c.AppID == app && c.Valid() {
			if regions == nil {
				regions = map[string]bool{}
			}
			regions[r], cr = true, c
		}
	}
	if regions != nil {
		return cr, regions, true
	}
	if s.cfg.Shared.Valid() && s.cfg.Shared.AppID == app {
		return s.cfg.Shared, nil, true
	}
	return platform.Credentials{}, nil, false
}

// api authenticates a request, applies faults, runs h and signs the answer.
func (s *Sim) api(h func(c *call) reply) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		target := platform.RequestTarget(r)
		app, ts, nonce, sig := r.Header.Get(platform.HeaderApp), r.Header.Get(platform.HeaderTimestamp),
			r.Header.Get(platform.HeaderNonce), r.Header.Get(platform.HeaderSignature)
		cr, regions, ok := s.findApp(app)
		if !ok {
			// Unknown app: nothing to sign with.
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unknown_app","message":"未知的接入方","retryable":false}}`))
			return
		}
		c := &call{r: r, cr: cr, regions: regions, nonce: nonce, body: body}
		s.send(w, c, s.authenticate(c, ts, sig, target, h))
	})
}

func (s *Sim) authenticate(c *call, ts, sig, target string, h func(c *call) reply) reply {
	now := s.cfg.Clock.Now()
	if !platform.ValidNonce(c.nonce) || sig == "" {
		return errReply(http.StatusUnauthorized, "bad_signature", "签名无效", false)
	}
	t, ok := platform.ParseTimestamp(ts)
	if !ok || !platform.Verify(c.cr.Secret, ts, c.nonce, c.r.Method, target, c.body, sig) {
		return errReply(http.StatusUnauthorized, "bad_signature", "签名无效", false)
	}
	if !platform.Fresh(t, now) {
		return errReply(http.StatusUnauthorized, "stale_request", "请求时间戳超出允许范围", false)
	}
	s.mu.Lock()
	nk := c.cr.AppID + "|" + c.nonce
	if exp, seen := s.nonces[nk]; seen && now.Before(exp) {
		s.mu.Unlock()
		return errReply(http.StatusConflict, "replayed", "重复的请求", false)
	}
	s.nonces[nk] = now.Add(2 * platform.Window)
	if c.r.Method == http.MethodPost && c.r.URL.Path == "/si/v1/postings" {
		if k := c.r.Header.Get(platform.HeaderIdempotencyKey); k != "" {
			s.attempts[k]++
		}
	}
	latency := s.latency
	down := false
	for _, d := range s.down {
		if !now.Before(d.from) && now.Before(d.to) {
			down = true
		}
	}
	fail := s.errorRate > 0 && s.rng.Float64() < s.errorRate
	forbid := s.forbid
	s.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-c.r.Context().Done():
			t.Stop()
		}
	}
	if down {
		return errReply(http.StatusServiceUnavailable, "platform_down", "系统维护中，请稍后再试", true)
	}
	if fail {
		return errReply(http.StatusServiceUnavailable, "temporarily_unavailable", "系统繁忙，请稍后再试", true)
	}
	if forbid {
		return errReply(http.StatusForbidden, "region_not_allowed", "无权访问该地区", false)
	}
	return h(c)
}

// regionAllowed reports whether the caller's app may act for region.
func (c *call) regionAllowed(region string) bool {
	return region != "" && (c.regions == nil || c.regions[region])
}

// send writes rep signed with the caller's credentials, echoing its nonce.
func (s *Sim) send(w http.ResponseWriter, c *call, rep reply) {
	b, err := json.Marshal(rep.body)
	if err != nil {
		rep.status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"系统错误","retryable":true}}`)
	}
	platform.SignHeaders(w.Header(), c.cr, s.cfg.Clock.Now(), c.nonce, c.r.Method, platform.RequestTarget(c.r), b)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rep.status)
	_, _ = w.Write(b)
	s.log.Debug("provsim", "method", c.r.Method, "path", c.r.URL.Path, "status", rep.status)
}

func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

func validPerson(p platform.WirePerson) bool {
	switch service.IDType(p.IDType) {
	case service.IDResident, service.IDHKMacauResidence, service.IDTaiwanResidence, service.IDHKMacauTravel,
		service.IDTaiwanTravel, service.IDForeignPermanent:
	default:
		return false
	}
	return p.Name != "" && p.IDNumber != "" && len(p.IDNumber) <= 32 && len(p.Name) <= 128
}

func invalid(msg string) reply {
	return errReply(http.StatusBadRequest, service.RejectInvalidRequest, msg, false)
}

func (s *Sim) personRequest(c *call) (platform.WirePersonRequest, *reply) {
	var in platform.WirePersonRequest
	if err := decodeStrict(c.body, &in); err != nil {
		r := invalid("请求格式错误")
		return in, &r
	}
	if !c.regionAllowed(in.Region) {
		r := errReply(http.StatusForbidden, "region_not_allowed", "无权访问该地区", false)
		return in, &r
	}
	if !validPerson(in.Person) {
		r := invalid("证件信息不完整")
		return in, &r
	}
	if personaOf(in.Region, in.Person).mismatch {
		r := errReply(http.StatusUnprocessableEntity, service.RejectPersonMismatch, "姓名与证件号码不一致", false)
		return in, &r
	}
	return in, nil
}

func (s *Sim) handleProfile(c *call) reply {
	in, bad := s.personRequest(c)
	if bad != nil {
		return *bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return reply{http.StatusOK, s.profile(in.Region, in.Person, s.cfg.Clock.Now())}
}

func (s *Sim) handleBase(c *call) reply {
	in, bad := s.personRequest(c)
	if bad != nil {
		return *bad
	}
	ps := personaOf(in.Region, in.Person)
	if ps.notInsured {
		return errReply(http.StatusUnprocessableEntity, service.RejectNotInsured, "未查询到参保信息", false)
	}
	base := ps.baseFen
	if r, ok := service.FindRegion(s.cfg.Regions, in.Region); ok {
		if p, ok := r.PeriodFor(service.Month(s.cfg.Clock.Now())); ok {
			base = min(max(base, int64(p.MinFen)), int64(p.MaxFen))
		}
	}
	return reply{http.StatusOK, platform.WireBaseAssessment{Region: in.Region, BaseFen: base,
		Year: s.cfg.Clock.Now().In(service.Shanghai).Year()}}
}

// maskID keeps the first 3 and last 2 characters of an ID number for logs.
func maskID(id string) string {
	if len(id) <= 5 {
		return "***"
	}
	return id[:3] + "***" + id[len(id)-2:]
}
