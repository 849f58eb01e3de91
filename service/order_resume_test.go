package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// A create-order whose prepay failed is resumed by its retry: WeChat is
// asked first, a trade it reports paid is applied (never prepaid again), an
// unknown one is prepaid under the same out_trade_no and time_expire, and
// past time_expire the answer is batch_expired.
func TestResumeOrderAfterPrepayFailureAsksWeChatFirst(t *testing.T) {
	clock := service.NewManualClock(orderNow)
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()

		t.Run("UnknownAtWeChatIsPrepaidWithTheSameTimeExpire", func(t *testing.T) {
			clock.Set(orderNow)
			e := newOrderEnv(t, db, clock)
			e.addQuote(t, "qr1", 1, 1000, 500)
			e.gw.failPrepay = context.DeadlineExceeded
			res, err := e.svc.CreateOrder(ctx, 1, "qr1")
			if service.ErrorCode(err) != service.CodePrepayFailed || res == nil || res.Order == nil {
				t.Fatalf("create: got %+v, %v; want prepay_failed naming the order", res, err)
			}
			no := res.Order.No
			expire := e.batch(t, no, 1).ExpireAt
			e.gw.failPrepay = nil
			clock.Advance(5 * time.Minute)
			got, err := e.svc.ResumeOrder(ctx, 1, no)
			if err != nil || got.Order.No != no || got.Seq != 1 || got.PayParams.PrepayID == "" {
				t.Fatalf("resume: got %+v, %v; want batch 1 of %s with a prepay", got, err, no)
			}
			if e.gw.queries != 1 || len(e.gw.prepays) != 1 || !e.gw.prepays[0].ExpireAt.Equal(expire) {
				t.Fatalf("gateway: queries=%d prepays=%+v; want one query, then one prepay with time_expire %s", e.gw.queries, e.gw.prepays, expire)
			}
			if _, err := e.svc.ResumeOrder(ctx, 2, no); service.ErrorCode(err) != service.CodeNotFound {
				t.Fatalf("another user's resume: got %v, want not_found", err)
			}
			clock.Set(expire)
			if _, err := e.svc.ResumeOrder(ctx, 1, no); service.ErrorCode(err) != service.CodeBatchExpired {
				t.Fatalf("resume past time_expire: got %v, want batch_expired", err)
			}
		})

		t.Run("PaidAtWeChatIsAppliedNotPrepaidAgain", func(t *testing.T) {
			clock.Set(orderNow)
			e := newOrderEnv(t, db, clock)
			e.addQuote(t, "qr2", 1, 1000)
			e.gw.failPrepay = context.DeadlineExceeded
			res, _ := e.svc.CreateOrder(ctx, 1, "qr2")
			no := res.Order.No
			otn := service.OutTradeNo(no, 1)
			// The first prepay reached WeChat; its reply was lost, yet the
			// user paid (another device showed the payment sheet).
			e.gw.mu.Lock()
			e.gw.trades[otn] = &service.Trade{AppID: testAppID, MchID: testMchID, OutTradeNo: otn, State: service.TradeNotPay,
				Attach: no + ":1", PayerOpenID: "openid-1", TotalFen: 1000, Currency: "CNY"}
			e.gw.mu.Unlock()
			e.gw.pay(t, otn, clock.Now())
			e.gw.failPrepay = nil
			if _, err := e.svc.ResumeOrder(ctx, 1, no); service.ErrorCode(err) != service.CodeBatchPaid {
				t.Fatalf("resume of a paid trade: got %v, want batch_paid", err)
			}
			if b := e.batch(t, no, 1); b.Status != service.StatusPaid {
				t.Fatalf("batch: got %s, want paid (applied from WeChat's answer)", b.Status)
			}
			if len(e.gw.prepays) != 0 {
				t.Fatalf("prepays: got %d, want 0", len(e.gw.prepays))
			}
		})
	})
}
