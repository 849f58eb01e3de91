package model_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

func refundAttempt(otn string, n int, amount service.Fen) *service.Refund {
	return &service.Refund{OutRefundNo: service.RefundAttemptNo(otn, n), Attempt: n, OutTradeNo: otn, OrderNo: otn[:len(otn)-3],
		AmountFen: amount, TotalFen: 1000, Reason: service.RefundPlatformRejected, Status: service.RefundStatePending}
}

// The sum of a batch's non-closed refunds never exceeds what was paid, even
// when many goroutines (real connections on MySQL) create refunds at once.
func TestCreateRefundKeepsNonClosedRefundsWithinThePaidAmountUnderConcurrency(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		orders, after := model.NewOrderStore(db), model.NewAfterStore(db)
		o := newTestOrder("SP2611240000R001", 1, "QR1", 1)
		mustCreateOrder(t, orders, o)
		otn := o.Batches[0].OutTradeNo
		if _, err := after.CreateRefund(ctx, refundAttempt(otn, 1, 1000)); service.ErrorCode(err) != "refund_exceeds_paid" {
			t.Fatalf("refund of an unpaid batch: got %v, want refund_exceeds_paid", err)
		}
		if _, err := orders.UpdateBatch(ctx, otn, payBatch("4200R001", "EV-R001")); err != nil {
			t.Fatalf("pay: %v", err)
		}

		// Eight workers race to refund the whole 1000 fen under eight
		// different attempt numbers: exactly one may win.
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = after.CreateRefund(ctx, refundAttempt(otn, i+1, 1000))
			}(i)
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case service.ErrorCode(err) != "refund_exceeds_paid":
				t.Fatalf("attempt %d: got %v, want nil or refund_exceeds_paid", i+1, err)
			}
		}
		if won != 1 {
			t.Fatalf("refunds created: got %d, want 1", won)
		}
		// A repeat of the winner's out_refund_no returns it, unchanged.
		rs, err := after.FindRefundsByTrade(ctx, otn)
		if err != nil || len(rs) != 1 {
			t.Fatalf("refunds of the batch: got %d, %v; want 1", len(rs), err)
		}
		winner := rs[0]
		if again, err := after.CreateRefund(ctx, refundAttempt(otn, winner.Attempt, 1000)); err != nil || again.OutRefundNo != winner.OutRefundNo {
			t.Fatalf("repeat of the winner: got %+v, %v", again, err)
		}

		// Once WeChat closed it, a new attempt may refund the amount again,
		// and only one: 600 fits, a further 600 does not, 400 does.
		if _, err := after.UpdateRefund(ctx, winner.OutRefundNo, func(r *service.Refund) error {
			r.Status = service.RefundStateClosed
			return nil
		}); err != nil {
			t.Fatalf("close: %v", err)
		}
		next := winner.Attempt + 1
		if _, err := after.CreateRefund(ctx, refundAttempt(otn, next, 600)); err != nil {
			t.Fatalf("attempt after close: %v", err)
		}
		if _, err := after.CreateRefund(ctx, refundAttempt(otn, next+1, 600)); service.ErrorCode(err) != "refund_exceeds_paid" {
			t.Fatalf("600 + 600 of 1000: got %v, want refund_exceeds_paid", err)
		}
		if _, err := after.CreateRefund(ctx, refundAttempt(otn, next+2, 400)); err != nil {
			t.Fatalf("600 + 400 of 1000: %v", err)
		}
		latest, err := after.FindRefundByTrade(ctx, otn)
		if err != nil || latest.Attempt != next+2 {
			t.Fatalf("latest attempt: got %+v, %v; want attempt %d", latest, err, next+2)
		}
		var open int64
		if err := db.Raw("SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE out_trade_no = ? AND status <> ?", otn, "closed").Scan(&open).Error; err != nil || open != 1000 {
			t.Fatalf("non-closed refunds: got %d fen, %v; want 1000", open, err)
		}
	})
}
