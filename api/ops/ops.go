// Package ops is the operations console: server-rendered pages under /ops/
// (html/template, embedded CSS, no scripts at all) for the people who
// release holds, resolve unknown outcomes, retry refunds, decide alerts,
// read reconciliation, search orders, answer customer-service tickets and
// follow credit-pay orders.
//
// It is mounted only where the JSON admin API is, and every action calls
// the same service methods (service.AdminService, service.OpsService) and
// so writes the same audit trail. Sign-in takes ADMIN_TOKEN or an
// operator's token (OPS_OPERATORS) and gives an HttpOnly, Secure,
// SameSite=Strict session cookie scoped to /ops with an idle timeout; every
// form carries the session's CSRF token. The cookie means nothing on
// /api/v1, and user (mini-program) tokens mean nothing here.
package ops

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/service"
)

// Admin is the operations service the JSON admin API also calls.
type Admin interface {
	Holds(ctx context.Context, actor string, status service.HoldStatus) ([]service.Hold, error)
	Recon(ctx context.Context, actor, day string) (*service.ReconReport, error)
	ReleaseHold(ctx context.Context, actor, outTradeNo string) (*service.Hold, error)
	RejectHold(ctx context.Context, actor, outTradeNo, note string) (*service.Hold, error)
	RetryRefund(ctx context.Context, actor, outRefundNo string) (*service.Refund, error)
}

// Ops is what the console adds (service.OpsService).
type Ops interface {
	Dashboard(ctx context.Context, actor string) (*service.Dashboard, error)
	UnknownOutcomes(ctx context.Context, actor string) ([]service.UnknownOutcome, error)
	CanResolveUnknown() bool
	ResolveUnknown(ctx context.Context, actor, outTradeNo, outcome, reference, note string) error
	Refunds(ctx context.Context, actor string, status service.RefundState) ([]service.Refund, error)
	Alerts(ctx context.Context, actor string, status service.AlertStatus) ([]service.OpsAlert, error)
	AckAlert(ctx context.Context, actor string, id int64, note string) (*service.OpsAlert, error)
	ResolveAlert(ctx context.Context, actor string, id int64, note string) (*service.OpsAlert, error)
	FindOrder(ctx context.Context, actor, ref string) (*service.AdminOrder, error)
	Person(ctx context.Context, actor, orderNo string, personID int64, reveal bool) (*service.Person, error)
	AuditLog(ctx context.Context, actor string, f service.AuditFilter) ([]service.AuditEntry, int, error)
	CreditOrders(ctx context.Context, actor string, state service.CreditState) ([]service.CreditOrder, error)
}

// Tickets is the customer-service desk (service.TicketService): the same
// audited methods the JSON admin API (/api/v1/admin/tickets) calls.
type Tickets interface {
	Queue(ctx context.Context, actor string) ([]service.TicketDue, error)
	DueState(t *service.Ticket) service.TicketDue
	AdminTicket(ctx context.Context, actor, no string) (*service.Ticket, error)
	Reply(ctx context.Context, actor, no, body string) (*service.Ticket, error)
	AdminSetStatus(ctx context.Context, actor, no, status, note string) (*service.Ticket, error)
}

// Sessions keeps console sessions (cache.OpsSessionStore).
type Sessions interface {
	Create(ctx context.Context, operator string) (string, *service.OpsSession, error)
	// Touch returns a live session and records its use; service.ErrNotFound
	// when it is unknown or timed out.
	Touch(ctx context.Context, token string) (*service.OpsSession, error)
	Delete(ctx context.Context, token string) error
}

// Deps are the console's dependencies.
type Deps struct {
	Log      *slog.Logger
	Admin    Admin
	Ops      Ops
	Tickets  Tickets
	Sessions Sessions
	Limiter  service.RateLimiter
	Clock    service.Clock
	// AdminToken signs in as operator "admin"; Operators maps a name to
	// the SHA-256 of that operator's token.
	AdminToken string
	Operators  map[string][32]byte
}

// Console serves /ops/.
type Console struct {
	d     Deps
	pages map[string]*template.Template
}

// Cookie names. The session cookie is scoped to /ops, so the browser never
// even sends it to /api/v1.
const (
	cookieSession = "sipay_ops"
	cookieLogin   = "sipay_ops_login" // double-submit CSRF for the sign-in form
	maxFormBytes  = 16 << 10
	ctxSession    = "ops_session"
	ctxToken      = "ops_token"
)

//go:embed templates/*.html static/*
var assets embed.FS

// New parses the embedded templates; it panics on a missing dependency or
// a broken template (a build error, not a runtime one).
func New(d Deps) *Console {
	if d.Log == nil || d.Admin == nil || d.Ops == nil || d.Tickets == nil || d.Sessions == nil || d.Limiter == nil || d.Clock == nil {
		panic("ops: New: missing dependency")
	}
	c := &Console{d: d, pages: map[string]*template.Template{}}
	funcs := c.funcs()
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		c.pages[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", n))
	}
	return c
}

// Routes adds the console's pages to g, the /ops group of api's routes
// (api.Console).
func (c *Console) Routes(g *gin.RouterGroup) {
	g.Use(c.headers, c.limitBody)
	g.GET("", func(ctx *gin.Context) { ctx.Redirect(http.StatusSeeOther, "/ops/") })
	static, _ := fs.Sub(assets, "static")
	g.StaticFS("/static", http.FS(static))
	g.GET("/login", c.loginPage)
	g.POST("/login", c.login)

	a := g.Group("", c.session)
	a.POST("/logout", c.csrf, c.logout)
	a.GET("/", c.dashboard)
	a.GET("/holds", c.holds)
	a.POST("/holds/:out_trade_no/release", c.csrf, c.releaseHold)
	a.POST("/holds/:out_trade_no/reject", c.csrf, c.rejectHold)
	a.GET("/unknown", c.unknown)
	a.POST("/unknown/:out_trade_no/resolve", c.csrf, c.resolveUnknown)
	a.GET("/refunds", c.refunds)
	a.POST("/refunds/:out_refund_no/retry", c.csrf, c.retryRefund)
	a.GET("/alerts", c.alerts)
	a.POST("/alerts/:id/ack", c.csrf, c.ackAlert)
	a.POST("/alerts/:id/resolve", c.csrf, c.resolveAlert)
	a.GET("/recon", c.recon)
	a.GET("/orders", c.orders)
	a.GET("/orders/:order_no", c.order)
	a.POST("/orders/:order_no/reveal", c.csrf, c.revealOrder)
	a.GET("/tickets", c.tickets)
	a.GET("/tickets/:ticket_no", c.ticket)
	a.POST("/tickets/:ticket_no/reply", c.csrf, c.replyTicket)
	a.POST("/tickets/:ticket_no/status", c.csrf, c.setTicketStatus)
	a.GET("/credit", c.creditOrders)
	a.GET("/audit", c.audit)
}

// csp allows nothing but this origin's stylesheet and images; no script
// runs at all, inline or not.
const csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (c *Console) headers(ctx *gin.Context) {
	h := ctx.Writer.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("Strict-Transport-Security", "max-age=31536000")
	h.Set("Cache-Control", "no-store")
	ctx.Next()
}

func (c *Console) limitBody(ctx *gin.Context) {
	if ctx.Request.ContentLength > maxFormBytes {
		c.fail(ctx, http.StatusRequestEntityTooLarge, "请求内容过大")
		ctx.Abort()
		return
	}
	ctx.Request.Body = http.MaxBytesReader(ctx.Writer, ctx.Request.Body, maxFormBytes)
	ctx.Next()
}

// session admits requests with a live session cookie. Authorization
// headers (admin or user tokens) are ignored here on purpose.
func (c *Console) session(ctx *gin.Context) {
	token, _ := ctx.Cookie(cookieSession)
	sess, err := c.d.Sessions.Touch(ctx.Request.Context(), token)
	if err != nil {
		if !errors.Is(err, service.ErrNotFound) {
			c.d.Log.Error("ops session", "err", err)
		}
		if ctx.Request.Method == http.MethodGet {
			ctx.Redirect(http.StatusSeeOther, "/ops/login")
		} else {
			c.fail(ctx, http.StatusUnauthorized, "登录已过期，请重新登录")
		}
		ctx.Abort()
		return
	}
	ctx.Set(ctxSession, sess)
	ctx.Set(ctxToken, token)
	ctx.Next()
}

func sessionOf(ctx *gin.Context) *service.OpsSession {
	s, _ := ctx.Get(ctxSession)
	sess, _ := s.(*service.OpsSession)
	return sess
}

// actor is how the console names the operator in the audit log.
func actor(ctx *gin.Context) string { return "ops:" + sessionOf(ctx).Operator }

// csrf requires the session's token in the form, compared in constant time.
func (c *Console) csrf(ctx *gin.Context) {
	got := ctx.PostForm("csrf")
	want := sessionOf(ctx).CSRF
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		c.fail(ctx, http.StatusForbidden, "表单已失效，请刷新页面后重试")
		ctx.Abort()
		return
	}
	ctx.Next()
}

func (c *Console) setCookie(ctx *gin.Context, name, value string, maxAge int) {
	http.SetCookie(ctx.Writer, &http.Cookie{Name: name, Value: value, Path: "/ops", MaxAge: maxAge,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

var operatorName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

func (c *Console) loginPage(ctx *gin.Context) {
	c.renderLogin(ctx, http.StatusOK, "")
}

func (c *Console) renderLogin(ctx *gin.Context, status int, msg string) {
	tok, err := randomString()
	if err != nil {
		c.fail(ctx, http.StatusInternalServerError, "服务器内部错误，请稍后重试")
		return
	}
	c.setCookie(ctx, cookieLogin, tok, 600)
	c.render(ctx, status, "login", &page{Title: "登录", Error: msg, CSRF: tok})
}

// login exchanges a token for a session. The same message answers every
// wrong name or token; attempts are limited per client address.
func (c *Console) login(ctx *gin.Context) {
	pre, _ := ctx.Cookie(cookieLogin)
	if f := ctx.PostForm("csrf"); pre == "" || subtle.ConstantTimeCompare([]byte(f), []byte(pre)) != 1 {
		c.renderLogin(ctx, http.StatusForbidden, "表单已失效，请重新登录")
		return
	}
	ok, _, err := c.d.Limiter.Allow(ctx.Request.Context(), "ops_login:"+ctx.ClientIP(), 10, time.Minute)
	if err != nil {
		c.d.Log.Error("ops login limiter", "err", err)
	}
	if !ok && err == nil {
		c.renderLogin(ctx, http.StatusTooManyRequests, "尝试次数过多，请一分钟后再试")
		return
	}
	name := strings.TrimSpace(ctx.PostForm("operator"))
	token := strings.TrimSpace(ctx.PostForm("token"))
	operator, valid := c.check(name, token)
	if !valid {
		c.d.Log.Warn("ops sign-in refused", "operator", name, "ip", ctx.ClientIP())
		c.renderLogin(ctx, http.StatusUnauthorized, "操作员或令牌不正确")
		return
	}
	cookie, _, err := c.d.Sessions.Create(ctx.Request.Context(), operator)
	if err != nil {
		c.d.Log.Error("ops session create", "err", err)
		c.fail(ctx, http.StatusServiceUnavailable, "暂时无法登录，请稍后重试")
		return
	}
	c.setCookie(ctx, cookieLogin, "", -1)
	c.setCookie(ctx, cookieSession, cookie, 0)
	c.d.Log.Info("ops sign-in", "operator", operator)
	ctx.Redirect(http.StatusSeeOther, "/ops/")
}

// check returns the operator a name and token sign in as. ADMIN_TOKEN signs
// in as "admin" (or "admin/<name>" when a name is given); an operator's own
// token only under that operator's name.
func (c *Console) check(name, token string) (string, bool) {
	if token == "" || len(token) > 200 || (name != "" && !operatorName.MatchString(name)) {
		return "", false
	}
	got := sha256.Sum256([]byte(token))
	if c.d.AdminToken != "" {
		want := sha256.Sum256([]byte(c.d.AdminToken))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			if name == "" || name == "admin" {
				return "admin", true
			}
			return "admin/" + name, true
		}
	}
	want, ok := c.d.Operators[name]
	if !ok {
		want = sha256.Sum256([]byte("\x00no operator")) // same work either way
	}
	if subtle.ConstantTimeCompare(got[:], want[:]) == 1 && ok {
		return name, true
	}
	return "", false
}

func (c *Console) logout(ctx *gin.Context) {
	if err := c.d.Sessions.Delete(ctx.Request.Context(), ctx.GetString(ctxToken)); err != nil {
		c.d.Log.Error("ops session delete", "err", err)
	}
	c.setCookie(ctx, cookieSession, "", -1)
	ctx.Redirect(http.StatusSeeOther, "/ops/login")
}

// fail renders an error page; service errors go through api.ErrorStatus.
func (c *Console) fail(ctx *gin.Context, status int, msg string) {
	p := &page{Title: "出错了", Error: msg}
	if s := sessionOf(ctx); s != nil {
		p.Operator, p.CSRF = s.Operator, s.CSRF
	}
	c.render(ctx, status, "error", p)
}

func (c *Console) failErr(ctx *gin.Context, err error) {
	status, msg := api.ErrorStatus(err)
	if status >= 500 {
		c.d.Log.Error("ops console", "path", ctx.FullPath(), "err", err)
	}
	c.fail(ctx, status, msg)
}
