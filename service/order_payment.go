package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shebao/sipay/redact"
)

// PostDeadline is how long after payment a batch may take to be posted to
// the provincial platform before it is refunded.
const PostDeadline = 72 * time.Hour

// HandleTransaction applies a verified TRANSACTION.SUCCESS notification.
// It returns nil for a first delivery and for duplicates, ErrUnknownTrade
// (wrapped) for an out_trade_no we never issued (alerted; acknowledge it), a
// KindInvalid *Error with code notify_mismatch when the notification
// disagrees with our batch (alerted, nothing changed), and other errors when
// the change could not be written (WeChat should retry).
func (s *OrderService) HandleTransaction(ctx context.Context, ev TransactionEvent) error {
	eventID := ev.EventID
	if eventID == "" {
		eventID = "notify:" + ev.Trade.OutTradeNo + ":" + ev.Trade.TransactionID
	}
	body := string(ev.Plaintext)
	if body == "" {
		body = tradeJSON(ev.Trade)
	}
	raw := &RawEvent{EventID: eventID, Source: "notify", EventType: ev.EventType, OutTradeNo: ev.Trade.OutTradeNo,
		TransactionID: ev.Trade.TransactionID, Body: body}
	return s.applyTrade(ctx, ev.Trade, raw)
}

// ApplyQueried applies a trade read by our own query (cancel, poller). Only
// SUCCESS changes anything; it goes through the same checks and transition
// as a notification.
func (s *OrderService) ApplyQueried(ctx context.Context, trade Trade) error {
	if trade.State != TradeSuccess {
		return fmt.Errorf("apply queried trade %s: state %s is not %s", trade.OutTradeNo, trade.State, TradeSuccess)
	}
	raw := &RawEvent{EventID: "query:" + trade.OutTradeNo + ":" + trade.TransactionID, Source: "query",
		EventType: "QUERY." + trade.State, OutTradeNo: trade.OutTradeNo, TransactionID: trade.TransactionID, Body: tradeJSON(trade)}
	return s.applyTrade(ctx, trade, raw)
}

func tradeJSON(t Trade) string {
	b, _ := json.Marshal(t)
	return string(b)
}

// applyTrade is the one payment transition, used by notifications and
// queries alike: it checks the trade against the batch and moves
// pending_payment → paid with its effects in one transaction.
func (s *OrderService) applyTrade(ctx context.Context, t Trade, raw *RawEvent) (err error) {
	outcome := NotifyError
	if raw.Source == "notify" {
		defer func() { metricsOr(s.metrics).NotifyOutcome(outcome, "") }()
	}
	if t.OutTradeNo == "" {
		outcome = NotifyMismatch
		return Invalid(CodeNotifyMismatch, "out_trade_no missing")
	}
	// The first delivery, the common case, is one conditional write: the
	// batch moves pending_payment → paid only when it has exactly this
	// amount. Anything else (a repeat, a mismatch, a closed batch, an
	// unknown trade) writes nothing here and is sorted out below, under the
	// order lock, with the batch in hand.
	if orderNo, seq, ok := SplitOutTradeNo(t.OutTradeNo); ok && mismatchBeforeBatch(s.cfg, t) == "" {
		paidAt := t.SuccessTime
		if paidAt.IsZero() {
			paidAt = s.clock.Now()
		}
		paidAt = paidAt.UTC()
		var fx Effects
		fx.Raw = raw
		fx.Event(seq, "paid", fmt.Sprintf("第 %d 笔已支付 %s 元（微信支付单号 %s）", seq, t.TotalFen, t.TransactionID))
		fx.Outbox = append(fx.Outbox, OutboxJob{Kind: JobPostBatch, Ref: t.OutTradeNo, DeadlineAt: paidAt.Add(PostDeadline)})
		done, err := s.store.MarkPaid(ctx, PaidBatch{OrderNo: orderNo, Seq: seq, OutTradeNo: t.OutTradeNo, AmountFen: t.TotalFen,
			TransactionID: t.TransactionID, PaidAt: paidAt}, &fx)
		if err != nil {
			return fmt.Errorf("apply trade %s: %w", t.OutTradeNo, err)
		}
		if done {
			outcome = NotifyFirst
			return nil
		}
	}
	for attempt := 0; ; attempt++ {
		var refused error
		_, err := s.store.UpdateBatch(ctx, t.OutTradeNo, func(o *Order, b *Batch, fx *Effects) error {
			refused = nil
			if why := mismatch(s.cfg, t, b); why != "" {
				outcome = NotifyMismatch
				refused = Invalid(CodeNotifyMismatch, "notification does not match the order: "+why)
				fx.Raw = raw
				fx.Alerts = append(fx.Alerts, Alert{Kind: AlertNotifyMismatch, Ref: t.OutTradeNo,
					Detail: redact.Clip(why+"; source="+raw.Source+"; event="+raw.EventID+"; body="+raw.Body, 2000)})
				return ErrNoChange
			}
			switch {
			case b.Status == StatusPendingPayment:
				outcome = NotifyFirst
				paidAt := t.SuccessTime
				if paidAt.IsZero() {
					paidAt = s.clock.Now()
				}
				b.Status, b.TransactionID, b.PaidAt = StatusPaid, t.TransactionID, paidAt.UTC()
				fx.Raw = raw
				fx.Event(b.Seq, "paid", fmt.Sprintf("第 %d 笔已支付 %s 元（微信支付单号 %s）", b.Seq, b.AmountFen, t.TransactionID))
				fx.Outbox = append(fx.Outbox, OutboxJob{Kind: JobPostBatch, Ref: b.OutTradeNo, DeadlineAt: paidAt.Add(PostDeadline)})
				return nil
			case b.Status != StatusClosed && b.TransactionID == t.TransactionID:
				outcome = NotifyDuplicate
				return ErrNoChange // a duplicate delivery
			default:
				outcome = NotifyPaidAfterClose
				// WeChat took money for a batch we closed, or reports another
				// transaction for a paid batch. Refunds of batches that were
				// never paid in our books are not automated (the refund flow
				// starts from a paid batch): operations refund it by hand
				// from this alert. Acknowledging is right: a retry cannot
				// change the outcome.
				fx.Raw = raw
				fx.Alerts = append(fx.Alerts, Alert{Kind: AlertPaidAfterClose, Ref: t.OutTradeNo,
					Detail: redact.Clip(fmt.Sprintf("batch status %s transaction %q; wechat says %s transaction %s amount %d at %s; body=%s",
						b.Status, b.TransactionID, t.State, t.TransactionID, t.TotalFen, t.SuccessTime.Format(time.RFC3339), raw.Body), 2000)})
				return ErrNoChange
			}
		})
		switch {
		case errors.Is(err, ErrNotFound):
			outcome = NotifyUnknownTrade
			if aerr := s.store.RecordAlert(ctx, Alert{Kind: AlertUnknownTrade, Ref: redact.Clip(t.OutTradeNo, 80),
				Detail: redact.Clip("source="+raw.Source+"; event="+raw.EventID+"; body="+raw.Body, 2000)}); aerr != nil {
				return fmt.Errorf("record unknown trade: %w", aerr)
			}
			return fmt.Errorf("%s: %w", t.OutTradeNo, ErrUnknownTrade)
		case errors.Is(err, ErrStale) && attempt < 4:
			// Another delivery won the race; the next round sees its result
			// and answers "duplicate".
			continue
		case err != nil:
			outcome = NotifyError
			return fmt.Errorf("apply trade %s: %w", t.OutTradeNo, err)
		}
		return refused
	}
}

// mismatch returns why a trade cannot be the payment of batch b, or "".
func mismatch(cfg OrderSettings, t Trade, b *Batch) string {
	if why := mismatchBeforeBatch(cfg, t); why != "" {
		return why
	}
	if t.TotalFen != b.AmountFen {
		return fmt.Sprintf("amount.total %d, want %d", t.TotalFen, b.AmountFen)
	}
	return ""
}

// mismatchBeforeBatch returns why a trade cannot be a payment of ours,
// judged without the batch, or "".
func mismatchBeforeBatch(cfg OrderSettings, t Trade) string {
	switch {
	case t.AppID != cfg.AppID:
		return fmt.Sprintf("appid %q, want %q", t.AppID, cfg.AppID)
	case t.MchID != cfg.MchID:
		return fmt.Sprintf("mchid %q, want %q", t.MchID, cfg.MchID)
	case t.State != TradeSuccess:
		return fmt.Sprintf("trade_state %q, want SUCCESS", t.State)
	case t.Currency != "CNY":
		return fmt.Sprintf("currency %q, want CNY", t.Currency)
	case t.TotalFen <= 0:
		return fmt.Sprintf("amount.total %d", t.TotalFen)
	case t.TransactionID == "":
		return "transaction_id missing"
	}
	return ""
}

// CancelResult tells what cancelling did.
type CancelResult struct {
	Order *Order
	// FullyCancelled is false when some batches were already paid: they
	// stay paid (and go on to be posted or refunded).
	FullyCancelled bool
	Message        string
}

// CancelOrder closes the user's unpaid batches. For each pending batch it
// first asks WeChat: a batch WeChat reports paid is marked paid, never
// closed; an unpaid one is closed at WeChat, then here. Paid batches stay.
func (s *OrderService) CancelOrder(ctx context.Context, userID int64, orderNo string) (*CancelResult, error) {
	o, err := s.ownOrder(ctx, userID, orderNo)
	if err != nil {
		return nil, err
	}
	pending := 0
	for _, b := range o.Batches {
		if b.Status == StatusPendingPayment {
			pending++
		}
	}
	if pending == 0 && o.Status != StatusClosed {
		return nil, Errorf(KindConflict, CodeOrderNotCancellable, "订单已支付，无法取消；如需退款请联系客服")
	}
	for _, b := range o.Batches {
		if b.Status != StatusPendingPayment {
			continue
		}
		if err := s.closeBatch(ctx, b, "用户取消"); err != nil {
			return nil, err
		}
	}
	if o, err = s.store.FindOrder(ctx, orderNo); err != nil {
		return nil, fmt.Errorf("cancel order: %w", err)
	}
	res := &CancelResult{Order: o, FullyCancelled: o.Status == StatusClosed, Message: "订单已取消"}
	if !res.FullyCancelled {
		res.Message = "已支付的缴费无法取消，未支付的部分已关闭；如需退款请联系客服"
	}
	return res, nil
}

// closeBatch closes one pending batch on the user's request: query first,
// then close at WeChat, then here.
func (s *OrderService) closeBatch(ctx context.Context, b Batch, why string) error {
	if b.PrepayID == "" && b.ExpireAt.IsZero() {
		// No prepay was ever requested: WeChat has never heard of it, and
		// since the close runs under the order lock with a status
		// condition, a prepay that starts now is refused.
		return s.markClosed(ctx, b.OutTradeNo, why+"（未发起支付）")
	}
	t, err := s.gateway.QueryTrade(ctx, b.OutTradeNo)
	switch {
	case errors.Is(err, ErrTradeNotFound):
		if b.PrepayID != "" {
			s.alert(ctx, b.OutTradeNo, "prepay_id issued but WeChat Pay knows no trade; cancel refused for now")
			return Unavailable("微信支付暂未确认该笔交易状态，请稍后再试", time.Minute, err)
		}
		// A prepay was requested but never answered: close it at WeChat in
		// case it exists, and only mark it closed when WeChat confirms it
		// cannot be paid.
		return s.closeAtWeChat(ctx, b, why)
	case err != nil:
		return Unavailable("暂时无法确认支付状态，请稍后再试", 5*time.Second, err)
	}
	switch t.State {
	case TradeSuccess:
		return s.applyForCancel(ctx, b, t)
	case TradeClosed, TradeRevoked:
		return s.markClosed(ctx, b.OutTradeNo, why)
	case TradeNotPay, TradeUserPaying, TradePayError:
		return s.closeAtWeChat(ctx, b, why)
	}
	s.alert(ctx, b.OutTradeNo, "unexpected trade_state "+t.State+" for a pending batch")
	return Errorf(KindConflict, CodeOrderNotCancellable, "第 %d 笔状态异常（%s），请联系客服", b.Seq, t.State)
}

// closeAtWeChat closes the trade, then marks the batch closed. When WeChat
// answers that it was paid in the meantime, the payment is applied instead.
// A trade that WeChat does not know is marked closed only when a query then
// confirms it (CLOSED), or when it was never given a prepay_id and its
// time_expire has passed: every prepay of the batch carries the stored
// time_expire, so no trade of it can be paid after that.
func (s *OrderService) closeAtWeChat(ctx context.Context, b Batch, why string) error {
	cerr := s.gateway.CloseTrade(ctx, b.OutTradeNo)
	if cerr == nil {
		return s.markClosed(ctx, b.OutTradeNo, why)
	}
	t, qerr := s.gateway.QueryTrade(ctx, b.OutTradeNo)
	switch {
	case qerr == nil && t.State == TradeSuccess:
		return s.applyForCancel(ctx, b, t)
	case qerr == nil && (t.State == TradeClosed || t.State == TradeRevoked):
		return s.markClosed(ctx, b.OutTradeNo, why)
	case errors.Is(qerr, ErrTradeNotFound) && b.PrepayID == "" && !b.ExpireAt.IsZero() &&
		s.clock.Now().After(b.ExpireAt.Add(ExpireGrace)):
		return s.markClosed(ctx, b.OutTradeNo, why+"（微信支付无此交易且已过支付期限）")
	case errors.Is(qerr, ErrTradeNotFound) && b.PrepayID == "":
		// Never reached WeChat and cannot reach it any more? Not yet
		// provable before time_expire; try again later.
		return Unavailable("支付状态确认中，请稍后再试", time.Minute, cerr)
	}
	return Unavailable("暂时无法关闭微信支付交易，请稍后再试", 5*time.Second, errors.Join(cerr, qerr))
}

// ExpireGrace is the margin past time_expire after which a trade WeChat does
// not know can no longer appear and be paid (clock skew allowance).
const ExpireGrace = 10 * time.Minute

// markClosed moves a pending batch to closed; a batch no longer pending is
// left as it is (a payment that won the race stays paid).
func (s *OrderService) markClosed(ctx context.Context, outTradeNo, why string) error {
	_, err := s.store.UpdateBatch(ctx, outTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		if b.Status != StatusPendingPayment {
			return ErrNoChange
		}
		b.Status = StatusClosed
		fx.Event(b.Seq, "closed", fmt.Sprintf("第 %d 笔已关闭：%s", b.Seq, why))
		return nil
	})
	if errors.Is(err, ErrStale) {
		return nil // changed under us; the winner's state stands
	}
	if err != nil {
		return fmt.Errorf("close batch %s: %w", outTradeNo, err)
	}
	return nil
}

// alert records a payment-state problem for operations.
func (s *OrderService) alert(ctx context.Context, outTradeNo, detail string) {
	if err := s.store.RecordAlert(ctx, Alert{Kind: AlertPaymentState, Ref: outTradeNo, Detail: redact.Clip(detail, 2000)}); err != nil {
		s.log.Error("record alert", "out_trade_no", outTradeNo, "err", err)
	}
}

// applyForCancel applies a trade WeChat reports paid while cancelling.
func (s *OrderService) applyForCancel(ctx context.Context, b Batch, t Trade) error {
	err := s.ApplyQueried(ctx, t)
	if ErrorCode(err) == CodeNotifyMismatch {
		return Errorf(KindConflict, CodeOrderNotCancellable, "第 %d 笔支付状态异常，请联系客服", b.Seq)
	}
	return err
}
