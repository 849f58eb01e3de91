package service

import (
	"context"
	"time"
)

// BatchAfterView is what a user sees of a batch after payment: its refund,
// its hold and an information-delay flag. The order GET includes it.
type BatchAfterView struct {
	OutTradeNo string
	Reference  string // platform reference (受理编号), once known
	Refund     *RefundView
	// HeldUntil is set while the batch is in a risk hold; HoldChoice says
	// what the payer may do about it (step-up verification or waiting).
	HeldUntil  time.Time
	HoldChoice *HoldChoice
	// Delayed is set when the platform has not confirmed within 3 working
	// days; DelayAdvice tells the user to contact 12333 with the numbers.
	Delayed     bool
	DelayAdvice string
	// OutcomeNote is set while the batch is confirming: the platform has
	// not said whether it booked the payment, and we are asking it.
	OutcomeNote string
}

// ConfirmingNote is what a user reads of a confirming batch.
const ConfirmingNote = "缴费结果待确认：社保经办机构尚未答复是否已入账，系统正在核实。资金安全，确认未入账将原路退回，已入账将生成缴费凭证。"

// AfterViewer builds BatchAfterViews.
type AfterViewer struct {
	Postings PostingStore
	Holds    HoldStore
	Refunds  *RefundService
	StepUp   *StepUpService // optional: the hold choice of held batches
}

// View returns the after-payment view of every batch of o, in batch order.
func (v *AfterViewer) View(ctx context.Context, o *Order) ([]BatchAfterView, error) {
	out := make([]BatchAfterView, 0, len(o.Batches))
	for _, b := range o.Batches {
		bv := BatchAfterView{OutTradeNo: b.OutTradeNo}
		if b.Status == StatusPendingPayment || b.Status == StatusClosed {
			out = append(out, bv)
			continue
		}
		p, err := v.Postings.FindPosting(ctx, b.OutTradeNo)
		if err != nil && !isNotFound(err) {
			return nil, err
		}
		if p != nil {
			bv.Reference = p.Reference
			if !p.DelayFlaggedAt.IsZero() && b.Status == StatusPosting {
				bv.Delayed = true
				bv.DelayAdvice = DelayAdvice(o.No, b.OutTradeNo, b.TransactionID, p.Reference)
			}
		}
		if b.Status == StatusConfirming {
			bv.OutcomeNote = ConfirmingNote
		}
		if b.Status == StatusHeld {
			h, err := v.Holds.FindHold(ctx, b.OutTradeNo)
			if err != nil && !isNotFound(err) {
				return nil, err
			}
			if h != nil {
				bv.HeldUntil = h.ExpiresAt
				if v.StepUp != nil {
					c := v.StepUp.Choice(ctx, o, &b, h)
					bv.HoldChoice = &c
				}
			}
		}
		if bv.Refund, err = v.Refunds.View(ctx, b.OutTradeNo); err != nil {
			return nil, err
		}
		out = append(out, bv)
	}
	return out, nil
}
