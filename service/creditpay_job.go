package service

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The credit pay worker (one outbox job per credit order), the reversal of
// a credit batch by the refund flow, and reconciliation of Pay Score
// collections.

// ---- the job -----------------------------------------------------------

// RunOnce claims due credit jobs one at a time and works them (see
// jobRunner.runOnce; a failed job is tried again after CreditUnknownRetry).
// It returns how many it claimed.
func (s *CreditService) RunOnce(ctx context.Context) (int, error) {
	return s.runOnce(ctx, s.Work)
}

// Work advances one credit order and reschedules or completes its job.
func (s *CreditService) Work(ctx context.Context, j OutboxJob) error {
	c, err := s.d.Credits.FindCredit(ctx, j.Ref)
	if isNotFound(err) {
		return s.complete(ctx, j)
	}
	if err != nil {
		return err
	}
	_, b, err := findBatch(ctx, s.d.Orders.store, c.OutTradeNo)
	if err != nil {
		return err
	}
	now := s.d.Clock.Now()
	switch c.State {
	case CreditCreated:
		return s.whileCreated(ctx, j, c, b, now)
	case CreditConfirmed:
		switch b.Status {
		case StatusPosted:
			_, err := s.update(ctx, c.OutOrderNo, creditStep(CreditConfirmed, func(c *CreditOrder) error { return c.MarkPosted(now) }, "credit_posted",
				func(c *CreditOrder) string {
					return fmt.Sprintf("信用付缴费已记入社保；%s 元将于 %s 由微信支付分扣款", c.AmountFen, c.DueAt.In(Shanghai).Format("2006-01-02"))
				}))
			if err != nil {
				return err
			}
			return s.retry(ctx, j, c.DueAt, "collection scheduled")
		case StatusRefunding, StatusRefunded:
			// The posting was refused: the refund job cancels the service
			// order (RefundService.reverseCredit) and this job then ends.
			return s.retry(ctx, j, now.Add(CreditPostingPoll), "posting refused; reversal under way")
		default: // paid, held, posting, confirming
			return s.retry(ctx, j, now.Add(CreditPostingPoll), "waiting for the posting")
		}
	case CreditPosted:
		if now.Before(c.DueAt) {
			return s.retry(ctx, j, c.DueAt, "collection scheduled")
		}
		return s.collect(ctx, j, c, now)
	case CreditCollectionDue, CreditCollectionFailed:
		return s.watchCollection(ctx, j, c, now)
	default: // collected, cancelled
		return s.complete(ctx, j)
	}
}

// whileCreated handles an order waiting for the user's confirmation: a
// closed batch (the user cancelled), an ended window or a person who
// withdrew the payer's consent (OrderService.ConsentWithdrawn; the
// withdrawal wakes this job) cancels the service order at WeChat; a
// confirmation whose notification was lost is applied.
func (s *CreditService) whileCreated(ctx context.Context, j OutboxJob, c *CreditOrder, b *Batch, now time.Time) error {
	if b.Status != StatusPendingPayment && b.Status != StatusClosed {
		// The batch is paid on credit but the credit row was not moved on
		// (a crash between the two writes).
		if err := s.markConfirmed(ctx, c.OutOrderNo, b.TransactionID, b.PaidAt); err != nil {
			return err
		}
		return s.retry(ctx, j, now, "confirmed")
	}
	closeWhy, cancelWhy := "信用付未确认", "用户未确认或已取消缴费"
	if now.Before(c.ConfirmBy) {
		// Within the window only a closed batch or a withdrawn consent ends
		// the order early; the same gate that refuses new pay params decides.
		withdrawn, err := s.d.Orders.ConsentWithdrawn(ctx, *b)
		if err != nil {
			return err
		}
		switch {
		case withdrawn:
			closeWhy, cancelWhy = WhyConsentWithdrawn, WhyConsentWithdrawn
		case b.Status == StatusPendingPayment:
			return s.retry(ctx, j, c.ConfirmBy, "waiting for confirmation")
		}
	}
	so, qerr, err := s.queryLeased(ctx, j, c)
	if err != nil {
		return err
	}
	switch {
	case errors.Is(qerr, ErrServiceOrderNotFound) && now.After(c.ConfirmBy.Add(ExpireGrace)):
		// Never created at WeChat (our create calls all failed), and the
		// window ended long ago: nobody can confirm it any more.
		return s.cancelled(ctx, j, c, "未创建微信支付分订单")
	case qerr != nil:
		return s.retry(ctx, j, now.Add(CreditUnknownRetry), "query: "+ErrorText(qerr, 300))
	}
	switch so.State {
	case ServiceDoing:
		if b.Status == StatusPendingPayment {
			// The user confirmed and the notification was lost.
			raw := &RawEvent{EventID: "query:" + c.OutOrderNo + ":confirm", Source: "query", EventType: EventPayScoreConfirm, OutTradeNo: c.OutOrderNo}
			if err := s.confirm(ctx, c, so, raw); err != nil {
				return err
			}
			return s.retry(ctx, j, now, "confirmed")
		}
	case ServiceRevoked, ServiceExpired:
		return s.cancelled(ctx, j, c, "微信支付分订单已"+map[string]string{ServiceRevoked: "取消", ServiceExpired: "失效"}[so.State])
	case ServiceCreated:
	default:
		s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, "unexpected state "+so.State+" before confirmation")
		return s.retry(ctx, j, now.Add(time.Hour), "unexpected state "+so.State)
	}
	// CREATED (or DOING for a closed batch): close the batch here first,
	// under the order lock, then cancel at WeChat. A confirmation arriving
	// in between finds the batch closed and posts nothing (and this job
	// cancels the DOING order); one that won the lock keeps the batch, and
	// nothing is cancelled.
	closed, err := s.closeBatch(ctx, c.OutTradeNo, closeWhy)
	if err != nil {
		return err
	}
	if !closed {
		return s.retry(ctx, j, now, "confirmed meanwhile")
	}
	cctx, cancel, err := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
	if err != nil {
		return err
	}
	cerr := s.d.PayScore.CancelServiceOrder(cctx, c.OutOrderNo, cancelWhy)
	cancel()
	if cerr != nil {
		// Unknown: the next round queries first.
		s.alert(ctx, AlertCreditOutcomeUnknown, c.OutOrderNo, "cancel: "+ErrorText(cerr, 500))
		return s.retry(ctx, j, now.Add(CreditUnknownRetry), "cancel: "+ErrorText(cerr, 300))
	}
	return s.cancelled(ctx, j, c, cancelWhy)
}

// queryLeased asks WeChat about c's service order inside a renewed lease of
// j (leaseCall). lease is the renewal's error (ErrStale: the job is someone
// else's now; nothing was asked); qerr is the query's.
func (s *CreditService) queryLeased(ctx context.Context, j OutboxJob, c *CreditOrder) (so ServiceOrder, qerr, lease error) {
	cctx, cancel, lease := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
	if lease != nil {
		return ServiceOrder{}, nil, lease
	}
	defer cancel()
	so, qerr = s.d.PayScore.QueryServiceOrder(cctx, c.OutOrderNo)
	return so, qerr, nil
}

// retryMismatch alerts a queried service order that disagrees with c (why)
// and asks again in an hour.
func (s *CreditService) retryMismatch(ctx context.Context, j OutboxJob, c *CreditOrder, now time.Time, why string) error {
	s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, "query: "+why)
	return s.retry(ctx, j, now.Add(time.Hour), "mismatch: "+why)
}

// closeBatch closes the credit batch of a service order about to be
// cancelled, if it is still pending, and reports whether it is closed now
// (false: the confirmation won and the batch is paid on credit).
func (s *CreditService) closeBatch(ctx context.Context, outTradeNo, why string) (bool, error) {
	o, err := updateBatch(ctx, s.d.Orders.store, outTradeNo, closePending(why))
	if err != nil {
		return false, fmt.Errorf("close credit batch %s: %w", outTradeNo, err)
	}
	b := o.Batch(outTradeNo)
	return b != nil && b.Status == StatusClosed, nil
}

// cancelled records a service order cancelled before posting, with its
// batch closed.
func (s *CreditService) cancelled(ctx context.Context, j OutboxJob, c *CreditOrder, why string) error {
	closed, err := s.closeBatch(ctx, c.OutTradeNo, "信用付未确认："+why)
	if err != nil {
		return err
	}
	if !closed {
		// Paid on credit although WeChat says the order is gone: never
		// cancel the credit of a posting silently.
		s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, "the batch is paid on credit but the service order is "+why)
		return s.retry(ctx, j, s.d.Clock.Now().Add(time.Hour), "batch paid, service order gone")
	}
	if err := s.markCancelled(ctx, c.OutOrderNo, why); err != nil {
		return err
	}
	return s.complete(ctx, j)
}

func (s *CreditService) markCancelled(ctx context.Context, outOrderNo, why string) error {
	_, err := s.update(ctx, outOrderNo, func(c *CreditOrder, fx *Effects) error {
		if c.State == CreditCancelled {
			return ErrNoChange
		}
		if err := c.Cancel(why); err != nil {
			return fmt.Errorf("credit %s: cannot cancel: %w", c.OutOrderNo, err)
		}
		fx.Event(1, "credit_cancelled", "信用付已取消，未向您扣款："+why)
		return nil
	})
	return err
}

// collect completes the service order with the posted amount, once: it
// queries first, so an earlier completion whose answer was lost is found,
// and any error leaves the outcome unknown (alerted, asked again).
func (s *CreditService) collect(ctx context.Context, j OutboxJob, c *CreditOrder, now time.Time) error {
	so, qerr, err := s.queryLeased(ctx, j, c)
	if err != nil {
		return err
	}
	if qerr != nil {
		s.alert(ctx, AlertCreditOutcomeUnknown, c.OutOrderNo, "query before completion: "+ErrorText(qerr, 500))
		return s.retry(ctx, j, now.Add(CreditUnknownRetry), "query: "+ErrorText(qerr, 300))
	}
	if why := s.mismatch(so, c); why != "" {
		return s.retryMismatch(ctx, j, c, now, why)
	}
	switch {
	case so.Completed():
		// Completed earlier (an answer lost): record it, never complete twice.
	case so.State == ServiceDoing:
		cctx, cancel, err := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
		if err != nil {
			return err
		}
		so, err = s.d.PayScore.CompleteServiceOrder(cctx, c.OutOrderNo, c.AmountFen, "社保缴费", now)
		cancel()
		if err != nil {
			s.alert(ctx, AlertCreditOutcomeUnknown, c.OutOrderNo, "complete: "+ErrorText(err, 500))
			return s.retry(ctx, j, now.Add(CreditUnknownRetry), "complete: "+ErrorText(err, 300))
		}
		if why := s.mismatch(so, c); why != "" || !so.Completed() {
			s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, fmt.Sprintf("complete answer: state %s/%s %s", so.State, so.StateDescription, why))
			return s.retry(ctx, j, now.Add(CreditUnknownRetry), "complete answer mismatch")
		}
	default:
		s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, "service order in state "+so.State+" on the collection day")
		return s.retry(ctx, j, now.Add(time.Hour), "unexpected state "+so.State)
	}
	if _, err := s.update(ctx, c.OutOrderNo, creditStep(CreditPosted, func(c *CreditOrder) error { return c.Complete(now) }, "credit_collection_due",
		func(c *CreditOrder) string {
			return fmt.Sprintf("信用付扣款日：已通知微信支付分扣款 %s 元", c.AmountFen)
		})); err != nil {
		return err
	}
	if so.Collection.State == CollectionPaid {
		if err := s.collected(ctx, c, so, nil); err != nil {
			return err
		}
		return s.complete(ctx, j)
	}
	return s.retry(ctx, j, now.Add(time.Hour), "collecting")
}

// watchCollection queries an order WeChat is collecting. Not collected
// within CollectionGrace: the user is told and operations alerted, once; the
// posting is never reversed, and WeChat keeps collecting by its own rules.
func (s *CreditService) watchCollection(ctx context.Context, j OutboxJob, c *CreditOrder, now time.Time) error {
	so, qerr, err := s.queryLeased(ctx, j, c)
	if err != nil {
		return err
	}
	if qerr != nil {
		return s.retry(ctx, j, now.Add(30*time.Minute), "query: "+ErrorText(qerr, 300))
	}
	if why := s.mismatch(so, c); why != "" {
		return s.retryMismatch(ctx, j, c, now, why)
	}
	if so.Collection.State == CollectionPaid {
		if err := s.collected(ctx, c, so, nil); err != nil {
			return err
		}
		return s.complete(ctx, j)
	}
	if c.State == CreditCollectionDue && !now.Before(c.CompletedAt.Add(CollectionGrace)) {
		if _, err := s.update(ctx, c.OutOrderNo, func(c *CreditOrder, fx *Effects) error {
			if c.State != CreditCollectionDue {
				return ErrNoChange
			}
			if err := c.MarkCollectionFailed(now); err != nil {
				return err
			}
			fx.Event(1, "credit_collection_failed", fmt.Sprintf("信用付扣款 %s 元未成功：微信支付分将按规则继续扣款，请确保微信零钱或绑定银行卡余额充足；已缴社保不受影响", c.AmountFen))
			fx.Alerts = append(fx.Alerts, Alert{Kind: AlertCreditCollectionFailed, Ref: c.OutOrderNo,
				Detail: fmt.Sprintf("order %s: %d fen not collected %s after completion; WeChat keeps collecting; the posting stands", c.OrderNo, c.AmountFen, CollectionGrace)})
			return nil
		}); err != nil {
			return err
		}
	}
	return s.retry(ctx, j, now.Add(CollectionPoll), "collecting")
}

// ---- reversal (the refund flow of a credit batch) ----------------------

// ReverseCredit undoes the credit of a batch whose posting the platform
// refused (the refund flow): the service order is cancelled at WeChat, so
// nothing is collected. done is false while the outcome is unknown, and for
// an order already completed or collected, which operations refund by hand
// (alerted): a collection is never cancelled silently.
func (s *CreditService) ReverseCredit(ctx context.Context, outTradeNo string) (done bool, why string, err error) {
	orderNo, _, ok := SplitOutTradeNo(outTradeNo)
	if !ok {
		return false, "", fmt.Errorf("reverse credit %q: %w", outTradeNo, ErrNotFound)
	}
	c, err := s.d.Credits.FindCreditByOrder(ctx, orderNo)
	if err != nil {
		return false, "", err
	}
	switch c.State {
	case CreditCancelled:
		return true, c.CancelReason, nil
	case CreditCreated, CreditConfirmed, CreditPosted:
	default:
		s.alert(ctx, AlertCreditReverseManual, c.OutOrderNo, fmt.Sprintf("order %s: the posting was refused after the service order was completed (state %s); refund the collection %q by hand", c.OrderNo, c.State, c.TransactionID))
		return false, "completed: operations refund the collection", nil
	}
	cerr := s.d.PayScore.CancelServiceOrder(ctx, c.OutOrderNo, "社保缴费未成功入账")
	if cerr != nil {
		so, qerr := s.d.PayScore.QueryServiceOrder(ctx, c.OutOrderNo)
		if qerr != nil || (so.State != ServiceRevoked && so.State != ServiceExpired) {
			s.alert(ctx, AlertCreditOutcomeUnknown, c.OutOrderNo, "cancel after a refused posting: "+ErrorText(errors.Join(cerr, qerr), 500))
			return false, "cancel outcome unknown", nil
		}
	}
	why = "社保缴费未成功入账，信用付已取消"
	if err := s.markCancelled(ctx, c.OutOrderNo, why); err != nil {
		return false, "", err
	}
	return true, why, nil
}

// CreditReverser undoes the credit of a batch being refunded;
// CreditService implements it.
type CreditReverser interface {
	ReverseCredit(ctx context.Context, outTradeNo string) (done bool, why string, err error)
}

// SetCreditReverser lets the refund flow reverse credit batches.
func (s *RefundService) SetCreditReverser(c CreditReverser) { s.d.Credit = c }

// reverseCredit is the refund job of a credit batch: no money was taken by
// WeChat Pay, so nothing is refunded; the service order is cancelled and
// the batch marked refunded only when WeChat confirmed.
func (s *RefundService) reverseCredit(ctx context.Context, j OutboxJob, b *Batch) error {
	now := s.d.Clock.Now()
	if s.d.Credit == nil {
		if err := s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertRefundState, Ref: b.OutTradeNo,
			Detail: "refund of a credit batch without credit pay wired; nothing sent"}); err != nil {
			return err
		}
		return s.retry(ctx, j, now.Add(time.Hour), "credit pay not wired")
	}
	done, why, err := s.d.Credit.ReverseCredit(ctx, b.OutTradeNo)
	if err != nil {
		return err
	}
	if !done {
		return s.retry(ctx, j, now.Add(CreditUnknownRetry), why)
	}
	_, err = updateBatch(ctx, s.d.Orders, b.OutTradeNo, moveBatch(StatusRefunding, (*Batch).MarkRefunded, "refunded", func(b *Batch) string {
		return fmt.Sprintf("第 %d 笔：%s，未向您扣款", b.Seq, why)
	}))
	if err != nil {
		return err
	}
	return s.complete(ctx, j)
}

// ---- reconciliation -----------------------------------------------------

// CreditCollections lists Pay Score collections; CreditStore implements it.
type CreditCollections interface {
	FindCollectedBetween(ctx context.Context, from, to time.Time) ([]CreditOrder, error)
}

// SetCreditCollections makes reconciliation cover Pay Score collections.
func (s *ReconService) SetCreditCollections(c CreditCollections) { s.credits = c }

// reconCredit takes credit pay out of the ordinary comparison: credit
// batches (paid on credit, no WeChat Pay trade) are dropped from ours, and
// the bill's rows of Pay Score collections (matched by transaction_id, or by
// out_order_no) are compared with the collections we recorded that day. It
// returns the batches and rows left for the ordinary comparison.
func (s *ReconService) reconCredit(ctx context.Context, from, to time.Time, batches []Batch, rows []BillRow, add func(ReconFinding)) ([]Batch, []BillRow, error) {
	kept := batches[:0:0]
	for _, b := range batches {
		if b.Funding != FundingCredit {
			kept = append(kept, b)
		}
	}
	if s.credits == nil {
		return kept, rows, nil
	}
	cs, err := s.credits.FindCollectedBetween(ctx, from, to)
	if err != nil {
		return nil, nil, err
	}
	byTx, byNo := map[string]CreditOrder{}, map[string]CreditOrder{}
	for _, c := range cs {
		byTx[c.TransactionID], byNo[c.OutOrderNo] = c, c
	}
	seen := map[string]bool{}
	var left []BillRow
	for _, row := range rows {
		if row.OutRefundNo != "" || row.TradeState == TradeRefund {
			left = append(left, row)
			continue
		}
		c, ok := byTx[row.TransactionID]
		if !ok {
			c, ok = byNo[row.OutTradeNo]
		}
		if !ok {
			left = append(left, row)
			continue
		}
		seen[c.OutOrderNo] = true
		if c.AmountFen != row.TotalFen {
			add(ReconFinding{Kind: ReconAmountDiff, OutTradeNo: c.OutOrderNo, LocalFen: c.AmountFen, RemoteFen: row.TotalFen, Detail: "pay score collection"})
		}
		if row.TransactionID != c.TransactionID {
			add(ReconFinding{Kind: ReconStatusDiff, OutTradeNo: c.OutOrderNo, LocalFen: c.AmountFen, RemoteFen: row.TotalFen,
				Detail: "pay score collection transaction_id differs: bill " + row.TransactionID + ", ours " + c.TransactionID})
		}
	}
	for _, c := range cs {
		if !seen[c.OutOrderNo] {
			add(ReconFinding{Kind: ReconMissingRemote, OutTradeNo: c.OutOrderNo, LocalFen: c.AmountFen, Detail: "pay score collection in our books, not in the bill"})
		}
	}
	return kept, left, nil
}
