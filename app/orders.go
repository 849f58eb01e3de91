package app

import (
	"context"
	"errors"
	"time"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay"
)

// storeQuotes finds quotes straight from the store, checking the owner. It
// stands in for the quote service's FindQuote until that is wired here.
type storeQuotes struct{ store *model.QuoteStore }

func (q storeQuotes) FindQuote(ctx context.Context, userID int64, id string) (*service.Quote, error) {
	quote, err := q.store.FindQuoteByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if quote.UserID != userID {
		return nil, service.ErrNotFound
	}
	return quote, nil
}

// wireOrders builds the order service and the payment poller, mounts the
// order routes and the WeChat Pay notify endpoint, and registers the poller
// as a worker. quotes may be nil (quotes are then read from the store).
func (a *App) wireOrders(srv *api.Server, quotes service.QuoteFinder, users service.UserFinder, refunds api.RefundEventHandler) *service.OrderService {
	if quotes == nil {
		quotes = storeQuotes{model.NewQuoteStore(a.DB)}
	}
	// The same ids buildPayAndPlatform gives the WeChat Pay client.
	appID, mchID := a.Cfg.WeChat.AppID, a.Cfg.Pay.MchID
	if a.Sims != nil {
		appID, mchID = a.Sims.Keys.AppID, a.Sims.Keys.MchID
	}
	orders := service.NewOrderService(quotes, model.NewOrderStore(a.DB), a.Pay, users, a.Clock, service.OrderSettings{
		AppID: appID, MchID: mchID, OrderTTL: a.Cfg.OrderTTL,
	})
	orders.SetLogger(a.Log.With("component", "orders"))
	poller := service.NewPaymentPoller(orders, cache.NewLocker(a.Redis), service.PollerSettings{})
	a.workers = append(a.workers, poller.Run)
	srv.MountOrders(api.OrderDeps{
		Orders:          orders,
		Idempotency:     cache.NewIdempotencyStore(a.Redis),
		Notify:          a.Notify,
		NotifyMalformed: func(err error) bool { return errors.Is(err, wxpay.ErrMalformed) },
		Refunds:         refunds,
		Dedupe:          cache.NewEventDedupe(a.Redis, 48*time.Hour),
	})
	return orders
}
