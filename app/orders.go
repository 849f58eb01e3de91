package app

import (
	"time"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// payIDs returns the appid and mchid that buildPayAndPlatform gives the
// WeChat Pay client; notifications must carry them.
func (a *App) payIDs() (appID, mchID string) {
	return a.peers.WeChat.AppID, a.peers.Pay.MchID
}

// wireOrders builds the order service, the payment poller and the WeChat
// Pay notification sink, adds them to the API and registers the poller as a
// worker. Orders check the region's identity method again (quotes) and the
// family member's consent (a.Identity).
func (a *App) wireOrders(deps *api.Deps, quotes *service.QuoteService, users service.UserFinder, refunds service.RefundEventHandler, after api.AfterViewer) *service.OrderService {
	appID, mchID := a.payIDs()
	store := model.NewOrderStore(a.DB)
	orders := service.NewOrderService(service.OrderDeps{Quotes: quotes, Store: store, Gateway: a.Pay,
		Users: users, Clock: a.Clock, Log: a.Log.With("component", "orders"), Metrics: a.Metrics,
		Identity: quotes, Consent: a.Identity,
		Settings: service.OrderSettings{AppID: appID, MchID: mchID, OrderTTL: a.Cfg.OrderTTL}})
	poller := service.NewPaymentPoller(service.PollerDeps{Payments: orders, Store: store, Gateway: a.Pay,
		Locks: cache.NewLocker(a.Redis), Clock: a.Clock, Log: a.Log.With("component", "payment-poller")})
	a.workers = append(a.workers, poller.Run)
	deps.Orders, deps.After = orders, after
	deps.Idempotency = cache.NewIdempotencyStore(a.Redis)
	deps.Notify = service.NewNotifyService(service.NotifyDeps{Parser: a.Notify, Orders: orders, Refunds: refunds,
		Dedupe: cache.NewSeenStore(a.Redis, "wxevent:", 48*time.Hour), Metrics: a.Metrics, Log: a.Log.With("component", "notify")})
	return orders
}
