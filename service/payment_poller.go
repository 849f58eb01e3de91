package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// PollerSettings configure the PaymentPoller.
type PollerSettings struct {
	Interval   time.Duration // between rounds (default 5s)
	QueryAfter time.Duration // how long a pending batch waits before it is queried (default 3m)
	Limit      int           // batches per round (default 100)
	Lease      time.Duration // per-batch lease (default 30s)
}

// PaymentPoller recovers missed payment notifications and expires unpaid
// batches. Each round it takes the pending batches not touched for
// QueryAfter, asks WeChat about each, and applies SUCCESS through the same
// transition as a notification. A batch past its time_expire, or whose
// family member withdrew consent, is closed at WeChat first and marked
// closed only when WeChat confirms it is unpaid.
// Every batch it looks at and leaves pending is touched (its updated_at
// moves on), so the next look comes QueryAfter later and batches take turns.
type PaymentPoller struct {
	payments PaymentApplier
	store    OrderStore
	gateway  PaymentGateway
	locks    Locker // optional
	clock    Clock
	cfg      PollerSettings
	log      *slog.Logger
}

// PaymentApplier applies what WeChat Pay answers about a pending batch
// through the order use cases' own transitions. OrderService implements it.
type PaymentApplier interface {
	// ApplyQueried applies a trade WeChat reports paid, as a notification
	// would be applied.
	ApplyQueried(ctx context.Context, t Trade) error
	// CloseUnpaid closes an unpaid batch at WeChat, then here.
	CloseUnpaid(ctx context.Context, b Batch, why string) error
	// MarkClosed moves a pending batch closed for a trade WeChat reports
	// closed.
	MarkClosed(ctx context.Context, outTradeNo, why string) error
	// AlertPaymentState records a payment-state problem for operations.
	AlertPaymentState(ctx context.Context, outTradeNo, detail string)
	// ConsentWithdrawn reports whether the insured person of b's order
	// withdrew the payer's consent: the unpaid batch is then closed before
	// its time_expire.
	ConsentWithdrawn(ctx context.Context, b Batch) (bool, error)
}

// PollerDeps are the dependencies of a PaymentPoller. All but Locks are
// required; without Locks (a single instance) batches are not leased and
// alerts are not limited to one a day.
type PollerDeps struct {
	Payments PaymentApplier
	Store    OrderStore     // pending batches, and the touch that moves their updated_at
	Gateway  PaymentGateway // QueryTrade
	Locks    Locker
	Clock    Clock
	Log      *slog.Logger
	Settings PollerSettings
}

// NewPaymentPoller returns a poller. It panics on a missing required
// dependency.
func NewPaymentPoller(d PollerDeps) *PaymentPoller {
	if d.Payments == nil || d.Store == nil || d.Gateway == nil || d.Clock == nil || d.Log == nil {
		panic("service: NewPaymentPoller: missing dependency")
	}
	cfg := d.Settings
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.QueryAfter <= 0 {
		cfg.QueryAfter = 3 * time.Minute
	}
	if cfg.Limit <= 0 {
		cfg.Limit = 100
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	return &PaymentPoller{payments: d.Payments, store: d.Store, gateway: d.Gateway, locks: d.Locks,
		clock: d.Clock, cfg: cfg, log: d.Log}
}

// Run polls every Interval until ctx is done.
func (p *PaymentPoller) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := p.PollOnce(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("payment poller round failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PollStats counts what a round did.
type PollStats struct {
	Checked, Paid, Closed, Skipped, Failed int
}

// PollOnce runs one round.
func (p *PaymentPoller) PollOnce(ctx context.Context) (PollStats, error) {
	var st PollStats
	batches, err := p.store.FindBatches(ctx, StatusPendingPayment, p.clock.Now().Add(-p.cfg.QueryAfter), p.cfg.Limit)
	if err != nil {
		return st, fmt.Errorf("poll: %w", err)
	}
	for _, b := range batches {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		p.pollBatch(ctx, b, &st)
	}
	return st, nil
}

func (p *PaymentPoller) pollBatch(ctx context.Context, b Batch, st *PollStats) {
	if p.locks != nil {
		key := "lease:paypoll:" + b.OutTradeNo
		token, ok, err := p.locks.TryLock(ctx, key, p.cfg.Lease)
		switch {
		case err != nil:
			// Redis trouble: go on without the lease; the database update
			// is conditional anyway.
			p.log.Warn("poller lease unavailable", "err", err)
		case !ok:
			st.Skipped++
			return
		default:
			defer p.locks.Unlock(context.WithoutCancel(ctx), key, token)
		}
	}
	st.Checked++
	outcome, err := p.check(ctx, b)
	switch {
	case err != nil:
		st.Failed++
		p.log.Warn("poll batch", "out_trade_no", b.OutTradeNo, "err", err)
		p.touch(ctx, b.OutTradeNo)
	case outcome == StatusPaid:
		st.Paid++
	case outcome == StatusClosed:
		st.Closed++
	case outcome == "":
		p.touch(ctx, b.OutTradeNo)
	}
}

// check looks at one pending batch and returns the status it moved to, or
// "" when it stays pending.
func (p *PaymentPoller) check(ctx context.Context, b Batch) (OrderStatus, error) {
	now := p.clock.Now()
	if b.PrepayID == "" && b.ExpireAt.IsZero() {
		return "", nil // never offered to WeChat: nothing to ask
	}
	expired := !b.ExpireAt.IsZero() && !now.Before(b.ExpireAt)
	t, err := p.gateway.QueryTrade(ctx, b.OutTradeNo)
	switch {
	case errors.Is(err, ErrTradeNotFound):
		if !expired {
			return "", nil // a prepay may be on its way; look again later
		}
		if b.PrepayID != "" {
			// WeChat gave us a prepay_id but denies the trade: never treat
			// that as closed.
			p.alertOnce(ctx, b.OutTradeNo, "prepay_id issued but WeChat Pay answers ORDER_NOT_EXIST after time_expire")
			return "", nil
		}
		return p.closed(ctx, b, p.payments.CloseUnpaid(ctx, b, "超时未支付"))
	case err != nil:
		return "", fmt.Errorf("query: %w", err)
	}
	switch t.State {
	case TradeSuccess:
		if err := p.payments.ApplyQueried(ctx, t); err != nil {
			return "", err
		}
		return StatusPaid, nil
	case TradeClosed, TradeRevoked:
		return p.closed(ctx, b, p.payments.MarkClosed(ctx, b.OutTradeNo, "微信支付交易已关闭"))
	case TradeNotPay, TradeUserPaying, TradePayError:
		if expired {
			return p.closed(ctx, b, p.payments.CloseUnpaid(ctx, b, "超时未支付"))
		}
		// A close that failed when the member withdrew consent is retried
		// here, long before time_expire.
		withdrawn, err := p.payments.ConsentWithdrawn(ctx, b)
		if err != nil || !withdrawn {
			return "", err
		}
		return p.closed(ctx, b, p.payments.CloseUnpaid(ctx, b, WhyConsentWithdrawn))
	}
	p.alertOnce(ctx, b.OutTradeNo, "unexpected trade_state "+string(t.State)+" for a pending batch")
	return "", nil
}

// closed reports the batch's new status after a close attempt.
func (p *PaymentPoller) closed(ctx context.Context, b Batch, err error) (OrderStatus, error) {
	if err != nil {
		if ErrorKind(err) == KindUnavailable {
			return "", nil // WeChat has not confirmed yet: look again later
		}
		return "", err
	}
	o, err := p.store.FindOrder(ctx, b.OrderNo)
	if err != nil {
		return "", err
	}
	if nb := batchOf(o, b.Seq); nb != nil && nb.Status != StatusPendingPayment {
		return nb.Status, nil
	}
	return "", nil
}

// touch moves the batch's updated_at on without changing it, so it is looked
// at again QueryAfter later.
func (p *PaymentPoller) touch(ctx context.Context, outTradeNo string) {
	_, err := p.store.UpdateBatch(ctx, outTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		if b.Status != StatusPendingPayment {
			return ErrNoChange
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrStale) {
		p.log.Warn("touch batch", "out_trade_no", outTradeNo, "err", err)
	}
}

// alertOnce records an alert, at most once a day per batch and problem when
// a Locker is configured.
func (p *PaymentPoller) alertOnce(ctx context.Context, outTradeNo, detail string) {
	if p.locks != nil {
		if _, ok, err := p.locks.TryLock(ctx, "alerted:"+outTradeNo+":"+detail, 24*time.Hour); err == nil && !ok {
			return
		}
	}
	p.payments.AlertPaymentState(ctx, outTradeNo, detail)
}
