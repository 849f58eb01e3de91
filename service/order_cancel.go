package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shebao/sipay/redact"
)

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
			s.AlertPaymentState(ctx, b.OutTradeNo, "prepay_id issued but WeChat Pay knows no trade; cancel refused for now")
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
	s.AlertPaymentState(ctx, b.OutTradeNo, "unexpected trade_state "+string(t.State)+" for a pending batch")
	return Errorf(KindConflict, CodeOrderNotCancellable, "第 %d 笔状态异常（%s），请联系客服", b.Seq, t.State)
}

// WhyConsentWithdrawn is the timeline reason of a batch closed because the
// family member withdrew consent.
const WhyConsentWithdrawn = "亲属已撤回代缴授权"

// CloseForWithdrawnConsent closes every unpaid batch of the payer's orders
// for person, after the person withdrew consent (FamilyService.Withdraw). Each
// batch goes through the cancel path (closeBatch): query first; a trade
// WeChat reports paid is applied as a payment (and then held by the
// third-party rule, see ConsentedFamily), an unpaid one is closed at WeChat
// and marked closed here only on WeChat's definite answer. A batch whose
// close fails or is unknown stays pending: the order gate already refuses
// new pay params, and the payment poller closes it on its next look
// (ConsentWithdrawn).
//
// A credit batch waiting for the user's Pay Score confirmation is not
// touched here: the credit job owns its service order. Its job is made due
// now (SetCreditWaker) instead of at the end of the confirmation window, and
// it cancels the service order early (CreditService, whileCreated). A wake
// that fails is logged: the job still runs when the window ends, and a
// confirmation in between is held by the third-party rule.
//
// It returns how many batches were left pending (credit batches always are:
// their job closes them); only a store failure listing the orders is an
// error. Running it again is harmless: closed and paid batches are skipped.
func (s *OrderService) CloseForWithdrawnConsent(ctx context.Context, payerUserID, personID int64) (left int, err error) {
	const page = 100
	var pending, credit []Batch
	for off := 0; ; off += page {
		os, _, err := s.store.FindOrders(ctx, OrderFilter{UserID: payerUserID, Offset: off, Limit: page})
		if err != nil {
			return 0, fmt.Errorf("close for withdrawn consent: %w", err)
		}
		for _, o := range os {
			if o.PersonID != personID {
				continue
			}
			for _, b := range o.Batches {
				switch {
				case b.Status != StatusPendingPayment:
				case b.Funding == FundingCredit:
					credit = append(credit, b)
				default:
					pending = append(pending, b)
				}
			}
		}
		if len(os) < page {
			break
		}
	}
	for _, b := range pending {
		if err := s.closeBatch(ctx, b, WhyConsentWithdrawn); err != nil {
			left++
			s.log.Warn("close batch after consent withdrawal; the payment poller retries", "out_trade_no", b.OutTradeNo, "err", err)
		}
	}
	for _, b := range credit {
		left++
		if s.creditWaker == nil {
			s.log.Warn("credit batch after consent withdrawal: credit pay not wired; its job runs when the window ends", "out_trade_no", b.OutTradeNo)
			continue
		}
		if err := s.creditWaker.WakeJob(ctx, JobCreditOrder, CreditOutOrderNo(b.OutTradeNo)); err != nil {
			s.log.Warn("wake credit job after consent withdrawal; it runs when the window ends", "out_trade_no", b.OutTradeNo, "err", err)
		}
	}
	return left, nil
}

// SetCreditWaker lets CloseForWithdrawnConsent make the credit jobs of
// credit batches due now (the credit service is built after the order
// service).
func (s *OrderService) SetCreditWaker(w JobWaker) { s.creditWaker = w }

// checkConsent refuses paying for the person of o when they withdrew the
// payer's consent (the order gate; family_consent_withdrawn).
func (s *OrderService) checkConsent(ctx context.Context, o *Order) error {
	if s.consent == nil {
		return nil
	}
	return s.consent.CheckConsent(ctx, o.UserID, o.PersonID)
}

// ConsentWithdrawn reports whether the person of b's order withdrew the
// payer's consent (the order gate answers family_consent_withdrawn): the
// payment poller then closes the unpaid batch before its time_expire.
func (s *OrderService) ConsentWithdrawn(ctx context.Context, b Batch) (bool, error) {
	if s.consent == nil {
		return false, nil
	}
	o, err := s.store.FindOrder(ctx, b.OrderNo)
	if err != nil {
		return false, fmt.Errorf("consent of %s: %w", b.OutTradeNo, err)
	}
	err = s.consent.CheckConsent(ctx, o.UserID, o.PersonID)
	switch {
	case ErrorCode(err) == CodeConsentWithdrawn:
		return true, nil
	case err != nil && ErrorKind(err) == KindInternal:
		return false, fmt.Errorf("consent of %s: %w", b.OutTradeNo, err)
	}
	return false, nil
}

// CloseUnpaid closes an unpaid batch at WeChat, then here (the payment
// poller, for a batch past its time_expire). why goes on the timeline.
func (s *OrderService) CloseUnpaid(ctx context.Context, b Batch, why string) error {
	return s.closeAtWeChat(ctx, b, why)
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

// MarkClosed moves a pending batch to closed, for a trade WeChat reports
// closed; a batch no longer pending is left as it is (a payment that won
// the race stays paid). why goes on the timeline.
func (s *OrderService) MarkClosed(ctx context.Context, outTradeNo, why string) error {
	return s.markClosed(ctx, outTradeNo, why)
}

func (s *OrderService) markClosed(ctx context.Context, outTradeNo, why string) error {
	_, err := s.store.UpdateBatch(ctx, outTradeNo, closePending(why))
	if errors.Is(err, ErrStale) {
		return nil // changed under us; the winner's state stands
	}
	if err != nil {
		return fmt.Errorf("close batch %s: %w", outTradeNo, err)
	}
	return nil
}

// closePending is the BatchUpdater that closes a batch still pending
// payment, for why (on the timeline); a batch in any other status (paid
// meanwhile, or closed) is left as it is.
func closePending(why string) BatchUpdater {
	return moveBatch(StatusPendingPayment, (*Batch).Close, "closed", func(b *Batch) string {
		return fmt.Sprintf("第 %d 笔已关闭：%s", b.Seq, why)
	})
}

// moveBatch is the BatchUpdater of one transition: a batch in status from
// takes move and gets the timeline event typ with detail(b); a batch in any
// other status is left as it is (ErrNoChange).
func moveBatch(from OrderStatus, move func(*Batch) error, typ string, detail func(*Batch) string) BatchUpdater {
	return func(o *Order, b *Batch, fx *Effects) error {
		if b.Status != from {
			return ErrNoChange
		}
		if err := move(b); err != nil {
			return err
		}
		fx.Event(b.Seq, typ, detail(b))
		return nil
	}
}

// AlertPaymentState records a payment-state problem of a batch for
// operations (AlertPaymentState); a failure to record it is logged.
func (s *OrderService) AlertPaymentState(ctx context.Context, outTradeNo, detail string) {
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
