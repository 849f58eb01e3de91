package app

import (
	"errors"
	"time"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay"
)

// payIDs returns the appid and mchid that buildPayAndPlatform gives the
// WeChat Pay client; notifications must carry them.
func (a *App) payIDs() (appID, mchID string) {
	if a.Sims != nil {
		return a.Sims.Keys.AppID, a.Sims.Keys.MchID
	}
	return a.Cfg.WeChat.AppID, a.Cfg.Pay.MchID
}

// wireOrders builds the order service and the payment poller, mounts the
// order routes and the WeChat Pay notify endpoint, and registers the poller
// as a worker.
func (a *App) wireOrders(srv *api.Server, quotes service.QuoteFinder, users service.UserFinder, refunds api.RefundEventHandler, after api.AfterViewer) *service.OrderService {
	appID, mchID := a.payIDs()
	orders := service.NewOrderService(quotes, model.NewOrderStore(a.DB), a.Pay, users, a.Clock, service.OrderSettings{
		AppID: appID, MchID: mchID, OrderTTL: a.Cfg.OrderTTL,
	})
	orders.SetLogger(a.Log.With("component", "orders"))
	orders.SetMetrics(a.Metrics)
	poller := service.NewPaymentPoller(orders, cache.NewLocker(a.Redis), service.PollerSettings{})
	a.workers = append(a.workers, poller.Run)
	srv.MountOrders(api.OrderDeps{
		Orders:          orders,
		Idempotency:     cache.NewIdempotencyStore(a.Redis),
		Notify:          a.Notify,
		NotifyMalformed: func(err error) bool { return errors.Is(err, wxpay.ErrMalformed) },
		Refunds:         refunds,
		Dedupe:          cache.NewSeenStore(a.Redis, "wxevent:", 48*time.Hour),
		After:           after,
		Metrics:         a.Metrics,
	})
	return orders
}
