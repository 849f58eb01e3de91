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
		EventType: "QUERY." + string(trade.State), OutTradeNo: trade.OutTradeNo, TransactionID: trade.TransactionID, Body: tradeJSON(trade)}
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
		defer func() { s.metrics.NotifyOutcome(outcome, "") }()
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
				if err := b.MarkPaid(t.TransactionID, paidAt); err != nil {
					return err
				}
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
