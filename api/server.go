// Package api is the HTTP transport: gin handlers, middleware and the one
// error envelope. Handlers decode, call a service and encode; *gin.Context
// never leaves this package.
//
// Three kinds of caller use it: the mini-program front end (Bearer token),
// WeChat Pay notifications (signed by WeChat), and provincial platform
// callbacks (HMAC-signed). Operations use the admin API (admin token).
package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// Authenticator resolves session tokens and logs users in.
type Authenticator interface {
	Login(ctx context.Context, code string) (*service.Session, error)
	Authenticate(ctx context.Context, token string) (*service.User, error)
	SetCareMode(ctx context.Context, userID int64, on bool) (*service.User, error)
}

// SessionEnder ends sessions (logout). When Deps.Auth implements it, the
// logout routes are mounted.
type SessionEnder interface {
	Logout(ctx context.Context, token string) error
	LogoutEverywhere(ctx context.Context, userID int64) error
}

// Pinger checks a dependency for /readyz.
type Pinger interface {
	Ping(ctx context.Context) error
}

// RateLimiter limits requests per key.
type RateLimiter = service.RateLimiter

// Deps are the services the API calls. Optional ones may be nil; their routes
// are then not mounted.
type Deps struct {
	Logger   *slog.Logger
	Auth     Authenticator
	Limiter  RateLimiter
	Identity service.IdentityViewer // optional: masked identity in /me
	Ready    map[string]Pinger      // name → dependency, checked by /readyz

	Face        FaceVerification // optional: /identity/face/*
	AltIdentity AltIdentity      // optional: /identity/alt/*
	Family      Family           // optional: /family

	// TrustedProxies are the CIDRs whose X-Forwarded-For names the client
	// (TRUSTED_PROXIES); nil means loopback only.
	TrustedProxies []string
	// Extra mounts routes from other areas (simulator control, etc.).
	Extra []func(r *gin.Engine)
	// Middleware runs on every request after the request id is set (HTTP
	// metrics); optional.
	Middleware []gin.HandlerFunc
	// Vouchers (optional) serves e-vouchers and their public verification.
	Vouchers VoucherAPI
	// Admin (optional) is the operations API, mounted only with AdminToken.
	Admin      AdminAPI
	AdminToken string
	// Ops (optional) acknowledges and resolves alerts under the admin API.
	Ops AlertDecider
}

// Server is the HTTP API.
type Server struct {
	deps   Deps
	log    *slog.Logger
	engine *gin.Engine
	// payScoreEvents applies PAYSCORE.* notifications (MountCredit).
	payScoreEvents interface {
		HandlePayScoreEvent(ctx context.Context, ev service.PayScoreEvent) error
	}
}

// defaultTrustedProxies are the peers whose X-Forwarded-For is believed
// unless Deps.TrustedProxies says otherwise: loopback only. Behind a load
// balancer, TRUSTED_PROXIES lists its addresses; trusting whole private
// networks let any peer there name any client and reset per-IP limits.
var defaultTrustedProxies = []string{"127.0.0.0/8", "::1/128"}

// MaxBodyBytes is the request body limit for JSON endpoints.
const MaxBodyBytes = 64 << 10

// NewServer builds the router.
func NewServer(d Deps) *Server {
	if d.Logger == nil || d.Auth == nil {
		panic("api: NewServer: missing dependency")
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{deps: d, log: d.Logger, engine: gin.New()}
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Engine exposes the router for route listing (OpenAPI drift test).
func (s *Server) Engine() *gin.Engine { return s.engine }

func (s *Server) routes() {
	e := s.engine
	e.HandleMethodNotAllowed = true
	// Only a proxy on this host or the private network may name the client
	// (X-Forwarded-For, X-Real-IP). gin trusts every peer by default, which
	// let any client reset the per-IP rate limits (login) with a forged
	// header.
	trusted := s.deps.TrustedProxies
	if trusted == nil {
		trusted = defaultTrustedProxies
	}
	if err := e.SetTrustedProxies(trusted); err != nil {
		panic("api: trusted proxies: " + err.Error())
	}
	e.Use(s.hygiene, s.requestID, s.recoverer, s.accessLog)
	e.Use(s.deps.Middleware...)
	e.NoRoute(func(c *gin.Context) { fail(c, service.NotFound("接口不存在")) })
	// gin sets Allow before calling this; the status is 405, not 400.
	e.NoMethod(func(c *gin.Context) {
		fail(c, &service.Error{Kind: service.KindMethodNotAllowed, Code: "method_not_allowed", Message: "请求方法不被支持"})
	})
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)

	v1 := e.Group("/api/v1")
	v1.POST("/auth/login", s.limit("login", 20), s.login)

	user := v1.Group("", s.authenticate)
	if ender, ok := s.deps.Auth.(SessionEnder); ok {
		user.DELETE("/auth/session", s.logout(ender))
		user.DELETE("/auth/sessions", s.logoutEverywhere(ender))
	}
	user.GET("/me", s.me)
	user.PATCH("/me", s.updateMe)
	s.identityRoutes(user)
	s.familyRoutes(user)

	if s.deps.Vouchers != nil {
		user.GET("/orders/:order_no/vouchers", s.listVouchers)
		v1.GET("/vouchers/verify", s.limit("voucher_verify", 60), s.verifyVoucher)
	}
	if s.deps.Admin != nil && s.deps.AdminToken != "" {
		admin := v1.Group("/admin", s.adminAuth)
		admin.GET("/holds", s.adminHolds)
		admin.GET("/alerts", s.adminAlerts)
		admin.GET("/recon", s.adminRecon)
		admin.POST("/holds/:out_trade_no/release", s.adminReleaseHold)
		admin.POST("/holds/:out_trade_no/reject", s.adminRejectHold)
		admin.POST("/refunds/:out_refund_no/retry", s.adminRetryRefund)
		admin.POST("/postings/:out_trade_no/resolve", s.adminResolvePosting)
		admin.GET("/orders/:order_no", s.adminOrder)
		if s.deps.Ops != nil {
			admin.POST("/alerts/:id/ack", s.adminDecideAlert(true))
			admin.POST("/alerts/:id/resolve", s.adminDecideAlert(false))
		}
	}

	for _, mount := range s.deps.Extra {
		mount(e)
	}
}
