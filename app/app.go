// Package app wires the service together from a config.Config: stores,
// Redis, WeChat clients, simulators, services, HTTP API and background
// workers. cmd/server, cmd/demo, cmd/bench and the end-to-end tests all boot
// the same App.
package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/config"
	"github.com/shebao/sipay/metrics"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/regions"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim"
	"github.com/shebao/sipay/wechat"
	"github.com/shebao/sipay/wxpay"
)

// Options override parts of the wiring, for tests and the demo.
type Options struct {
	// Clock replaces the clock (default: the wall clock, or an OffsetClock
	// that the simulator control API can move when SIMULATOR is on).
	Clock service.Clock
	// SimFront (tests) returns the base URL the WeChat, WeChat Pay and
	// platform clients use instead of the in-process simulator's, so a test
	// can put a fault-injecting proxy in front of it (SIMULATOR only).
	SimFront func(simURL string) string
}

// App is the wired service.
type App struct {
	Cfg     *config.Config
	Log     *slog.Logger
	Clock   service.Clock
	DB      *model.DB
	Redis   redis.UniversalClient
	Handler http.Handler
	// SimURL is the in-process simulator's base URL when SIMULATOR is on.
	SimURL string
	Sims   *sim.Stack

	// Pay is the WeChat Pay gateway, Notify verifies its notifications and
	// Platform is the provincial platform client.
	Pay      *wxpay.Client
	Notify   *wxpay.NotifyParser
	Platform *platform.Client

	platformCfg platform.Config
	opts        Options
	// peers are the configuration's WeChat, WeChat Pay and platform
	// settings, or the simulator's; simSecrets are the simulator's secrets.
	peers      peers
	simSecrets []string

	// Identity resolves and shows persons (service.PersonResolver,
	// IdentityViewer); PII encrypts personal data at rest.
	Identity *service.IdentityService
	PII      *pii.Keyring

	// Metrics is the Prometheus registry; cmd/server serves it on
	// METRICS_ADDR.
	Metrics *metrics.Metrics

	// After is the after-payment flow (posting, refunds, holds, vouchers,
	// reconciliation, operations); After.Posting is the platform callback sink.
	After *AfterPayment
	// Help is customer service and notifications (FAQ, tickets, subscribe
	// messages, lapse reminders).
	Help *Help
	// Credit is credit pay (社保信用付) on WeChat Pay Score; nil when no Pay
	// Score service is configured.
	Credit *service.CreditService

	workers []func(ctx context.Context)
	closers []func()
}

// New builds the App. On error everything opened so far is closed.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opts Options) (_ *App, err error) {
	// a is a local, not the named result: the error returns below set the
	// result to nil, and closing (or closers reading) a nil *App used to
	// panic and hide the error.
	// Every log line of the App passes the redact handler: configured
	// secrets masked, URL query strings dropped, values clipped.
	a := &App{Cfg: cfg, Clock: opts.Clock, opts: opts, peers: peersOf(cfg)}
	log = slog.New(redact.NewHandler(log.Handler(), a.Secrets))
	a.Log = log
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.Clock == nil {
		if cfg.Simulator {
			a.Clock = &service.OffsetClock{}
		} else {
			a.Clock = service.SystemClock{}
		}
	}
	if cfg.Simulator {
		log.Warn("DEVELOPMENT SETUP: SIMULATOR=on — WeChat, WeChat Pay and the provincial platform are simulated in-process; no real money moves")
		if a.peers, err = a.startSimulators(); err != nil {
			return nil, err
		}
	}
	if cfg.PIIKey == "" {
		if !cfg.Simulator {
			return nil, fmt.Errorf("PII_KEY: required when SIMULATOR is off")
		}
		if cfg.PIIKey, err = loadOrCreateKey(filepath.Join(cfg.DataDir, "pii.key")); err != nil {
			return nil, fmt.Errorf("PII_KEY: %w", err)
		}
	}

	a.DB, err = model.Open(cfg.MySQLDSN, cfg.SQLitePath(), a.Clock)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { a.DB.Close() })
	a.Metrics = metrics.New(a.DB, a.Clock, log.With("component", "metrics"))
	if cfg.AutoMigrate {
		applied, err := a.DB.Migrate(ctx)
		if err != nil {
			return nil, err
		}
		if len(applied) > 0 {
			log.Info("migrations applied", "dialect", a.DB.Dialect, "migrations", strings.Join(applied, ","))
		}
	}
	rdb, stopRedis, err := cache.OpenConfig(ctx, cache.Config{Addr: cfg.Redis.Addr, Addrs: cfg.Redis.Addrs,
		MasterName: cfg.Redis.MasterName, Password: cfg.Redis.Password, DB: cfg.Redis.DB})
	if err != nil {
		return nil, fmt.Errorf("REDIS_ADDR/REDIS_ADDRS: %w", err)
	}
	a.Redis = rdb
	a.closers = append(a.closers, stopRedis)
	if cfg.Redis.Addr == "" && len(cfg.Redis.Addrs) == 0 {
		log.Info("using in-process Redis (REDIS_ADDR is empty)")
	}

	if err := a.buildPayAndPlatform(); err != nil {
		return nil, err
	}
	wx := wechat.New(a.peers.WeChat.AppID, a.peers.WeChat.Secret, a.peers.WeChat.APIBase, rdb)
	users := model.NewUserStore(a.DB)
	sessions := cache.NewSessionStore(rdb, a.Clock)
	limiter := cache.NewRateLimiter(rdb, a.Clock)
	auth := service.NewAuthService(service.AuthDeps{Users: users, WeChat: wx, Sessions: sessions, Clock: a.Clock, TTL: cfg.SessionTTL})

	deps := api.Deps{
		Logger:  log,
		Auth:    auth,
		Limiter: limiter,
		Ready:   map[string]api.Pinger{"db": a.DB, "redis": redisPinger{rdb}},

		Middleware: []gin.HandlerFunc{a.Metrics.Middleware()},

		TrustedProxies: cfg.TrustedProxies,
	}
	rs, err := regions.Load()
	if err != nil {
		return nil, fmt.Errorf("region rules: %w", err)
	}
	catalog := service.RegionCatalog(rs)
	if err := a.wireIdentity(&deps, users, wx, catalog); err != nil {
		return nil, err
	}
	if cfg.Simulator {
		a.simControl(&deps)
	}
	after, err := a.wireAfterPayment(AfterInputs{Orders: model.NewOrderStore(a.DB), Persons: a.Identity,
		Quotes: model.NewQuoteStore(a.DB), Family: service.ConsentedFamily{Store: model.NewFamilyStore(a.DB, a.PII)},
		Gateway: a.Pay, Platform: a.Platform}, &deps)
	if err != nil {
		return nil, err
	}
	a.After = after
	if a.Help, err = a.wireHelp(&deps, wx, rs); err != nil {
		return nil, err
	}
	codes := make([]string, len(rs))
	for i, r := range rs {
		codes[i] = r.Code
	}
	deps.Platform = platform.CallbackHandler(&platform.CallbackVerifier{Creds: a.platformCfg.RegionCreds(codes...), Clock: a.Clock,
		Nonces: cache.NewSeenStore(rdb, "si:", 0)}, after.Posting, log.With("component", "platform-callback"))
	quotes := service.NewQuoteService(service.QuoteDeps{Regions: rs, Store: model.NewQuoteStore(a.DB), Persons: a.Identity,
		Platform: a.Platform, Clock: a.Clock, TTL: cfg.QuoteTTL, RequireSourced: cfg.QuoteRequireSourced,
		Evidence: model.NewIdentityEvidence(a.DB), Commitments: model.NewOrderStore(a.DB), Alerts: model.NewOrderStore(a.DB)})
	deps.Quotes = quotes
	deps.Insured = service.NewInsuredService(rs, a.Identity, a.Platform, a.Clock)
	deps.Pension = service.NewPensionService(rs, a.Clock)
	orders := a.wireOrders(&deps, quotes, users, after.Refunds, after.Viewer)
	a.wireFamily(&deps, users, orders)
	if err := a.wireCredit(&deps, orders, rs); err != nil {
		return nil, err
	}
	if err := a.wireStepUpAndEvidence(&deps); err != nil {
		return nil, err
	}
	a.wireConsole(&deps)
	a.Handler = api.NewServer(deps)
	return a, nil
}

// simControl exposes the simulators' controls (pay a prepay_id, inject
// platform failures, read ledgers) through the server's own port, and the
// business clock when it is the simulator's adjustable clock (not an
// injected test clock). SIMULATOR only.
func (a *App) simControl(deps *api.Deps) {
	target, _ := url.Parse(a.SimURL)
	deps.Sim = httputil.NewSingleHostReverseProxy(target)
	if oc, ok := a.Clock.(*service.OffsetClock); ok {
		deps.SimClock = oc
	}
}

// Start runs the background workers until ctx is done; the returned wait
// function blocks until they have all stopped.
func (a *App) Start(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	if a.Cfg.Workers {
		for _, w := range a.workers {
			wg.Add(1)
			go func(w func(context.Context)) {
				defer wg.Done()
				w(ctx)
			}(w)
		}
	}
	return wg.Wait
}

// Close releases everything, newest first.
func (a *App) Close() {
	if a == nil {
		return
	}
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// Secrets returns every secret the App's log scrubber masks: the
// configuration's and the simulator's.
func (a *App) Secrets() []string {
	return append(a.Cfg.Secrets(), a.simSecrets...)
}

type redisPinger struct{ rdb redis.UniversalClient }

func (p redisPinger) Ping(ctx context.Context) error { return p.rdb.Ping(ctx).Err() }

// loadOrCreateKey reads a base64 32-byte key from path, creating it once.
func loadOrCreateKey(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return "", err
	}
	s := base64.StdEncoding.EncodeToString(k)
	return s, os.WriteFile(path, []byte(s+"\n"), 0o600)
}
