package service

import (
	"context"
	"fmt"
	"time"
)

// DelayWorkingDays is after how many working days a pending posting is
// flagged as an information delay (信息延迟).
const DelayWorkingDays = 3

// FlagDelays flags batches the platform has not confirmed within 3 working
// days of answering pending: a timeline event telling the user to contact
// 12333 with the reference numbers, and an alert. It returns how many it
// flagged.
func (s *PostingService) FlagDelays(ctx context.Context) (int, error) {
	now := s.d.Clock.Now()
	recs, err := s.d.Postings.FindUnflaggedPending(ctx, now.Add(-DelayWorkingDays*24*time.Hour), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		if now.Before(AddWorkingDays(r.FirstPendingAt, DelayWorkingDays)) {
			continue
		}
		_, b, err := findBatch(ctx, s.d.Orders, r.OutTradeNo)
		if err != nil {
			return n, err
		}
		if b.Status != StatusPosting {
			continue
		}
		ok, err := s.d.Postings.MarkDelayFlagged(ctx, r.OutTradeNo, now)
		if err != nil || !ok {
			return n, err
		}
		detail := DelayAdvice(r.OrderNo, b.OutTradeNo, b.TransactionID, r.Reference)
		_, err = s.d.Orders.UpdateBatch(ctx, r.OutTradeNo, func(o *Order, b *Batch, fx *Effects) error {
			fx.Event(b.Seq, "info_delay", detail)
			fx.Alerts = append(fx.Alerts, Alert{Kind: AlertPostingDelayed, Ref: r.OutTradeNo, Detail: "pending at the platform for 3 working days, reference " + r.Reference})
			return ErrNoChange
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// DelayAdvice is the user message of an information delay.
func DelayAdvice(orderNo, outTradeNo, transactionID, reference string) string {
	return fmt.Sprintf("缴费已超过3个工作日未到账，请致电12333人工核验，并提供：订单号 %s、商户单号 %s、微信支付交易单号 %s、社保受理编号 %s",
		orderNo, outTradeNo, transactionID, reference)
}
