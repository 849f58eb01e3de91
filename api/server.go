// Package api is the HTTP transport: gin handlers, middleware and the one
// error envelope. Handlers decode, call a service and encode (the helpers
// of reply.go: withBody, reply, replyList, noContent); *gin.Context never
// leaves this package.
//
// Three kinds of caller use it: the mini-program front end (Bearer token),
// WeChat Pay notifications (signed by WeChat), and provincial platform
// callbacks (HMAC-signed). Operations use the admin API (admin token) and
// the console pages of api/ops (session cookie). Server.routes lists every
// route; Deps says which are mounted.
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

// Console is the operations console (api/ops): it adds its pages to g, the
// /ops group.
type Console interface {
	Routes(g *gin.RouterGroup)
}

// RateLimiter limits requests per key.
type RateLimiter = service.RateLimiter

// Deps are everything the API calls. Logger and Auth are required; every
// other service is optional, and a nil one leaves its routes unmounted
// (routes lists them all).
type Deps struct {
	Logger   *slog.Logger
	Auth     Authenticator
	Limiter  RateLimiter
	Identity service.IdentityViewer // optional: masked identity in /me
	Ready    map[string]Pinger      // name → dependency, checked by /readyz

	// TrustedProxies are the CIDRs whose X-Forwarded-For names the client
	// (TRUSTED_PROXIES); nil means loopback only.
	TrustedProxies []string
	// Middleware runs on every request after the request id is set (HTTP
	// metrics); optional.
	Middleware []gin.HandlerFunc

	Face        FaceVerification // /identity/face/*
	AltIdentity AltIdentity      // /identity/alt/*
	Family      Family           // /family

	// Quotes, Insured and Pension serve /regions, /quotes, /insured and
	// /pension/estimate; the three come together.
	Quotes  Quoter
	Insured InsuredViewer
	Pension PensionEstimator

	// Orders serves /orders. Idempotency stores replies of POST /orders
	// (nil keeps the Idempotency-Key requirement but replays nothing);
	// After adds each batch's refund, hold and delay view to the order GET.
	Orders      OrderService
	Idempotency service.IdempotencyStore
	After       AfterViewer

	// Credit serves credit pay (社保信用付, /credit); nil when no Pay Score
	// service is configured.
	Credit CreditPay

	// Notify receives WeChat Pay notifications (/wxpay/notify).
	Notify PayNotifications
	// Platform receives provincial platform callbacks
	// (/platform/:region/callback).
	Platform PlatformCallbacks

	// Vouchers serves e-vouchers and their public verification.
	Vouchers VoucherAPI
	// StepUp clears held payments by a fresh face verification; Evidence
	// serves the payment evidence log (and its admin tree-head signing).
	StepUp   StepUpAPI
	Evidence EvidenceAPI
	// Admin is the operations API (/admin), mounted only with AdminToken;
	// Ops adds the alert decisions to it, Console the /ops/ pages.
	Admin      AdminAPI
	AdminToken string
	Ops        AlertDecider
	Console    Console

	// Sim exposes the in-process simulators' control endpoints (/sim/pay,
	// /sim/platform, /sim/wechat) and SimClock the movable business clock (/sim/clock):
	// SIMULATOR only.
	Sim      http.Handler
	SimClock SimClock

	// Customer service and notifications: the smart FAQ (/help),
	// subscribe-message grants (/subscriptions), lapse-reminder opt-ins
	// (/lapse-reminders) and tickets (/tickets, /admin/tickets).
	Help          HelpAPI
	Subscriptions SubscriptionAPI
	Lapse         LapseAPI
	Tickets       TicketAPI
}

// Server is the HTTP API.
type Server struct {
	deps   Deps
	log    *slog.Logger
	engine *gin.Engine
	// userLimits are the per-user limits of authenticated routes by
	// "METHOD /full/path" (userRoute).
	userLimits map[string]service.UserLimit
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
	s.checkUserLimits()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Engine exposes the router for route listing (OpenAPI drift test).
func (s *Server) Engine() *gin.Engine { return s.engine }

// routes lists every route of the service. A nil service in Deps leaves its
// routes out; withBody marks the handlers that read a JSON body.
func (s *Server) routes() {
	e, d := s.engine, s.deps
	e.HandleMethodNotAllowed = true
	// Only a proxy on this host or the private network may name the client
	// (X-Forwarded-For, X-Real-IP). gin trusts every peer by default, which
	// let any client reset the per-IP rate limits (login) with a forged
	// header.
	trusted := d.TrustedProxies
	if trusted == nil {
		trusted = defaultTrustedProxies
	}
	if err := e.SetTrustedProxies(trusted); err != nil {
		panic("api: trusted proxies: " + err.Error())
	}
	e.Use(s.hygiene, s.requestID, s.recoverer, s.accessLog)
	e.Use(d.Middleware...)
	e.NoRoute(func(c *gin.Context) { fail(c, service.NotFound("接口不存在")) })
	// gin sets Allow before calling this; the status is 405, not 400.
	e.NoMethod(func(c *gin.Context) {
		fail(c, &service.Error{Kind: service.KindMethodNotAllowed, Code: "method_not_allowed", Message: "请求方法不被支持"})
	})
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)

	// v1 is public (or signed by its caller), user needs a Bearer token.
	v1 := e.Group("/api/v1")
	user := v1.Group("", s.authenticate)

	v1.POST("/auth/login", s.limit("login", 20), withBody(s.login))
	if ender, ok := d.Auth.(SessionEnder); ok {
		user.DELETE("/auth/session", s.logout(ender))
		user.DELETE("/auth/sessions", s.logoutEverywhere(ender))
	}
	user.GET("/me", s.me)
	user.PATCH("/me", withBody(s.updateMe))

	if d.Face != nil {
		s.userRoute(user, http.MethodPost, "/identity/face/start", "face_start", 10, withBody(s.faceStart))
		s.userRoute(user, http.MethodPost, "/identity/face/result", "face_result", 30, withBody(s.faceResult))
		s.userRoute(user, http.MethodPost, "/identity/face/legacy", "face_legacy", 10, withBody(s.faceLegacy))
	}
	if d.AltIdentity != nil {
		s.userRoute(user, http.MethodPost, "/identity/alt/start", "alt_start", 5, withBody(s.altStart))
		s.userRoute(user, http.MethodPost, "/identity/alt/finish", "alt_finish", 20, withBody(s.altFinish))
	}
	if d.Family != nil {
		user.GET("/family", s.familyList)
		s.userRoute(user, http.MethodPost, "/family", "family_add", 10, withBody(s.familyAdd))
		user.DELETE("/family/:id", s.familyRemove)
		user.POST("/family/:id/consent", s.familyConsent)
		s.userRoute(user, http.MethodPost, "/family/invitations/:token/accept", "family_accept", 10, s.familyAccept)
		s.userRoute(user, http.MethodDelete, "/family/consents/:id", "family_accept", 10, s.familyWithdraw)
	}

	if d.Quotes != nil {
		v1.GET("/regions", s.listRegions)
		v1.GET("/regions/:code", s.getRegion)
		v1.GET("/pension/estimate", s.limit("pension", 60), s.estimatePension)
		s.userRoute(user, http.MethodPost, "/quotes", "quote", 30, withBody(s.createQuote))
		user.GET("/quotes/:id", s.getQuote)
		s.userRoute(user, http.MethodGet, "/insured", "insured", 30, s.insuredProfile)
	}
	if d.Orders != nil {
		s.userRoute(user, http.MethodPost, "/orders", "order", 30, s.idempotent, withBody(s.createOrder))
		user.GET("/orders", s.listOrders)
		user.GET("/orders/:order_no", s.getOrder)
		s.userRoute(user, http.MethodPost, "/orders/:order_no/batches/:seq/pay", "pay", 30, s.payBatch)
		s.userRoute(user, http.MethodPost, "/orders/:order_no/cancel", "cancel", 30, s.cancelOrder)
	}
	if d.Credit != nil {
		user.GET("/credit/regions", s.creditRegions)
		s.userRoute(user, http.MethodPost, "/credit/orders", "credit", 30, withBody(s.startCredit))
		s.userRoute(user, http.MethodPost, "/credit/orders/:order_no/confirmation", "credit", 30, s.resumeCredit)
		user.GET("/credit/orders/:order_no", s.getCredit)
	}
	if d.Notify != nil {
		v1.POST("/wxpay/notify", s.wxpayNotify)
	}
	if d.Platform != nil {
		v1.POST("/platform/:region/callback", s.platformCallback)
	}
	if d.Vouchers != nil {
		user.GET("/orders/:order_no/vouchers", s.listVouchers)
		v1.GET("/vouchers/verify", s.limit("voucher_verify", 60), s.verifyVoucher)
	}
	// Customer service: answers follow the user's care mode.
	if d.Help != nil {
		s.userRoute(user, http.MethodGet, "/help/search", "help_search", 60, s.helpSearch)
		user.GET("/help/for/orders/:order_no", s.helpForOrder)
	}
	if d.Subscriptions != nil {
		user.GET("/subscriptions", s.subscriptionsList)
		s.userRoute(user, http.MethodPost, "/subscriptions", "subscriptions", 30, withBody(s.subscriptionsRecord))
	}
	if d.Lapse != nil {
		user.GET("/lapse-reminders", s.lapseList)
		s.userRoute(user, http.MethodPost, "/lapse-reminders", "lapse", 20, withBody(s.lapseWatch))
		s.userRoute(user, http.MethodDelete, "/lapse-reminders/:region/:person", "lapse", 20, s.lapseUnwatch)
	}
	if d.Tickets != nil {
		s.userRoute(user, http.MethodPost, "/tickets", "ticket_open", 10, withBody(s.ticketOpen))
		user.GET("/tickets", s.ticketList)
		user.GET("/tickets/:ticket_no", s.ticketGet)
		s.userRoute(user, http.MethodPost, "/tickets/:ticket_no/messages", "ticket_message", 20, withBody(s.ticketFollowUp))
		s.userRoute(user, http.MethodPost, "/tickets/:ticket_no/status", "ticket_message", 20, withBody(s.ticketStatus))
	}
	if d.StepUp != nil {
		s.userRoute(user, http.MethodPost, "/orders/:order_no/batches/:seq/step-up", "stepup_start", 10, s.stepUpStart)
		s.userRoute(user, http.MethodPost, "/orders/:order_no/batches/:seq/step-up/result", "stepup_result", 30, s.stepUpResult)
	}
	if d.Evidence != nil {
		s.userRoute(user, http.MethodGet, "/evidence/:voucher_code", "evidence", 60, s.evidenceBundle)
	}

	if d.Admin != nil && d.AdminToken != "" {
		admin := v1.Group("/admin", s.adminAuth)
		admin.GET("/holds", s.adminHolds)
		admin.GET("/alerts", s.adminAlerts)
		admin.GET("/recon", s.adminRecon)
		admin.POST("/holds/:out_trade_no/release", s.adminReleaseHold)
		admin.POST("/holds/:out_trade_no/reject", s.adminRejectHold)
		admin.POST("/refunds/:out_refund_no/retry", s.adminRetryRefund)
		admin.POST("/postings/:out_trade_no/resolve", withBody(s.adminResolvePosting))
		admin.GET("/orders/:order_no", s.adminOrder)
		if d.Tickets != nil {
			admin.GET("/tickets", s.adminTickets)
			admin.GET("/tickets/:ticket_no", s.adminTicket)
			admin.POST("/tickets/:ticket_no/reply", withBody(s.adminTicketReply))
			admin.POST("/tickets/:ticket_no/status", withBody(s.adminTicketStatus))
		}
		if d.Evidence != nil {
			admin.POST("/evidence/tree-heads", s.adminPublishTreeHead)
		}
		if d.Ops != nil {
			admin.POST("/alerts/:id/ack", s.adminDecideAlert(true))
			admin.POST("/alerts/:id/resolve", s.adminDecideAlert(false))
		}
		if d.Console != nil {
			d.Console.Routes(e.Group("/ops")) // the pages: api/ops
		}
	}

	if d.Sim != nil {
		e.Any("/sim/pay/*path", gin.WrapH(d.Sim))
		e.Any("/sim/platform/*path", gin.WrapH(d.Sim))
		e.Any("/sim/wechat/*path", gin.WrapH(d.Sim))
	}
	if d.SimClock != nil {
		e.GET("/sim/clock", s.simClock)
		e.POST("/sim/clock/advance", s.simAdvanceClock)
	}
}
