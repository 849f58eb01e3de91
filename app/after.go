package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// AfterPayment is the wired after-payment flow: posting with the 72-hour
// retry window, refunds, risk holds, vouchers, reconciliation, operations.
type AfterPayment struct {
	Posting  *service.PostingService // also the platform callback sink (service.PlatformEventHandler)
	Refunds  *service.RefundService  // HandleRefundEvent is the REFUND.* notify sink
	Holds    *service.HoldService
	Vouchers *service.VoucherService
	Recon    *service.ReconService
	Admin    *service.AdminService
	Viewer   *service.AfterViewer     // per-batch refund/hold/delay view for the order GET
	Ops      *service.OpsService      // the operations console's reads and alert decisions
	StepUp   *service.StepUpService   // step-up face verification of held payments (app/evidence.go)
	Evidence *service.EvidenceService // the payment evidence log; nil without EVIDENCE_SIGNING_KEY
}

// AfterInputs are what the after-payment flow needs from other areas.
type AfterInputs struct {
	Orders   *model.OrderStore
	Persons  service.PersonFinder
	Quotes   service.QuoteByID
	Family   service.FamilyBindings // optional
	Gateway  service.PaymentGateway
	Platform service.Platform
}

// instanceID names this process in outbox leases.
func instanceID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// wireAfterPayment builds the after-payment services, adds them to deps
// and registers their workers.
func (a *App) wireAfterPayment(in AfterInputs, deps *api.Deps) (*AfterPayment, error) {
	// Voucher codes are signed with VOUCHER_KEY, or a key derived from
	// PII_KEY when it is unset.
	secretB64, secretVar := a.Cfg.VoucherKey, "VOUCHER_KEY"
	if secretB64 == "" {
		secretB64, secretVar = a.Cfg.PIIKey, "PII_KEY"
	}
	secret, err := base64.StdEncoding.DecodeString(secretB64)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", secretVar, err)
	}
	store := model.NewAfterStore(a.DB)
	outbox := model.NewOutbox(a.DB)
	owner := instanceID()
	_, mchID := a.payIDs()
	refunds := service.NewRefundService(service.RefundDeps{Orders: in.Orders, Outbox: outbox, Refunds: store, Gateway: in.Gateway,
		MchID: mchID, Guard: cache.NewLocker(a.Redis), Waker: store, Clock: a.Clock, Log: a.Log, Metrics: a.Metrics, Owner: owner})
	holds := service.NewHoldService(service.HoldDeps{Store: store, Orders: in.Orders, Users: model.NewUserStore(a.DB), Family: in.Family,
		Refunds: refunds, Waker: store, Rules: a.Cfg.Hold, Clock: a.Clock})
	vouchers := service.NewVoucherService(store, in.Orders, a.Clock, service.DeriveVoucherKey(secret))
	posting := service.NewPostingService(service.PostingDeps{Orders: in.Orders, Outbox: outbox, Platform: in.Platform,
		Persons: in.Persons, Quotes: in.Quotes, Postings: store, Holds: holds, Refunds: refunds, Vouchers: vouchers,
		Clock: a.Clock, Log: a.Log, Metrics: a.Metrics, Owner: owner})
	recon := service.NewReconService(store, store, in.Gateway, a.Clock)
	admin := service.NewAdminService(service.AdminDeps{Orders: in.Orders, Alerts: in.Orders, Holds: holds, Refunds: refunds,
		Recon: recon, Postings: store, Audit: store, Clock: a.Clock, Posting: posting})
	ap := &AfterPayment{Posting: posting, Refunds: refunds, Holds: holds, Vouchers: vouchers, Recon: recon, Admin: admin,
		Viewer: &service.AfterViewer{Postings: store, Holds: store, Refunds: refunds}}

	deps.Vouchers = vouchers
	deps.Admin = admin
	deps.AdminToken = a.Cfg.AdminToken
	ap.Ops = a.wireOps(admin, store, holds, in.Persons, deps)

	// Workers poll on wall-clock tickers; every rule they apply reads the
	// injected clock, so the simulator's clock jumps take effect at the next
	// tick. All are safe with several instances (leases, conditional
	// updates, unique outbox jobs).
	a.every("posting", 2*time.Second, func(ctx context.Context) error { _, err := posting.RunOnce(ctx); return err })
	a.every("refunds", 2*time.Second, func(ctx context.Context) error { _, err := refunds.RunOnce(ctx); return err })
	a.every("hold sweeper", 30*time.Second, func(ctx context.Context) error { _, err := holds.Sweep(ctx); return err })
	a.every("delay flags", 5*time.Minute, func(ctx context.Context) error { _, err := posting.FlagDelays(ctx); return err })
	a.every("voucher retention", time.Hour, func(ctx context.Context) error { _, err := vouchers.PurgeExpired(ctx); return err })
	a.every("reconciliation", 5*time.Minute, func(ctx context.Context) error { return recon.RunDue(ctx, outbox, owner) })
	return ap, nil
}

// every registers a worker that runs fn every interval until ctx ends.
func (a *App) every(name string, interval time.Duration, fn func(context.Context) error) {
	a.workers = append(a.workers, func(ctx context.Context) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				a.Log.Error("worker failed", "worker", name, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}
