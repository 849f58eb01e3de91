package app

import (
	"context"
	"fmt"
	"time"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay/payscore"
)

// wireCredit builds credit pay (社保信用付) on WeChat Pay Score when a Pay
// Score service is configured (PAYSCORE_SERVICE_ID and PAYSCORE_APIV2_KEY,
// or the simulator's peers), adds it to the API and to the notify endpoint,
// lets the refund flow reverse and reconciliation cover it, and registers
// its worker. Regions offer it per their YAML (credit_pay). Call it after
// wireOrders.
func (a *App) wireCredit(deps *api.Deps, orders *service.OrderService, rs []service.Region) error {
	serviceID, v2Key := a.peers.Pay.PayScoreServiceID, a.peers.Pay.PayScoreAPIv2Key
	if serviceID == "" {
		a.Log.Info("credit pay off (PAYSCORE_SERVICE_ID is empty)")
		return nil
	}
	appID, mchID := a.payIDs()
	ps, err := payscore.New(a.Pay.API(), payscore.Config{AppID: appID, MchID: mchID, ServiceID: serviceID,
		NotifyURL: a.Cfg.NotifyURL(), APIv2Key: v2Key}, a.Clock)
	if err != nil {
		return fmt.Errorf("PAYSCORE_SERVICE_ID: %w", err)
	}
	credits := model.NewCreditStore(a.DB)
	credit := service.NewCreditService(service.CreditDeps{Orders: orders, Credits: credits, Outbox: model.NewOutbox(a.DB),
		Waker: model.NewAfterStore(a.DB), PayScore: ps, Regions: rs, AppID: appID, MchID: mchID, ServiceID: serviceID,
		Clock: a.Clock, Log: a.Log.With("component", "credit"), Owner: instanceID()})
	a.After.Refunds.SetCreditReverser(credit)
	// A member's consent withdrawal wakes the credit jobs of the payer's
	// credit batches for them (OrderService.CloseForWithdrawnConsent).
	orders.SetCreditWaker(model.NewAfterStore(a.DB))
	a.After.Recon.SetCreditCollections(credits)
	notify, ok := deps.Notify.(*service.NotifyService)
	if !ok {
		return fmt.Errorf("credit pay: the notify endpoint is %T, not the NotifyService", deps.Notify)
	}
	notify.SetPayScore(credit)
	deps.Credit = credit
	a.Credit = credit
	a.every("credit pay", 2*time.Second, func(ctx context.Context) error { _, err := credit.RunOnce(ctx); return err })
	return nil
}
