package service_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

func TestCreateOrder(t *testing.T) {
	ctx := context.Background()

	t.Run("OwnerGetsPendingOrderWithPayParams", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 120000, 80000)
		res, err := e.svc.CreateOrder(ctx, 1, "q1")
		if err != nil {
			t.Fatal(err)
		}
		o := res.Order
		if !regexp.MustCompile(`^SI20261124\d{14}$`).MatchString(o.No) {
			t.Fatalf("order no=%q, want SI+yyyymmdd+14 digits", o.No)
		}
		if got, want := o.AmountFen, service.Fen(200000); got != want {
			t.Fatalf("AmountFen=%d, want %d", got, want)
		}
		if got, want := o.Status, service.StatusPendingPayment; got != want {
			t.Fatalf("Status=%s, want %s", got, want)
		}
		b1 := e.batch(t, o.No, 1)
		if b1.PrepayID == "" || !b1.PrepayAt.Equal(orderNow) {
			t.Fatalf("batch 1 prepay=%q at %v, want stored at %v", b1.PrepayID, b1.PrepayAt, orderNow)
		}
		if got, want := b1.ExpireAt, orderNow.Add(30*time.Minute); !got.Equal(want) {
			t.Fatalf("ExpireAt=%v, want %v", got, want)
		}
		if got, want := res.PayParams.Package, "prepay_id="+b1.PrepayID; got != want {
			t.Fatalf("package=%q, want %q", got, want)
		}
		if b2 := e.batch(t, o.No, 2); b2.PrepayID != "" || !b2.ExpireAt.IsZero() {
			t.Fatalf("batch 2 prepaid early: %+v", b2)
		}
		p := e.gw.prepays[0]
		if p.OutTradeNo != b1.OutTradeNo || p.AmountFen != 120000 || p.PayerOpenID != "openid-1" || !p.ExpireAt.Equal(b1.ExpireAt) ||
			p.Attach != o.No+":1" || len(p.Attach) > 128 {
			t.Fatalf("prepay=%+v, want batch 1 of %s", p, o.No)
		}
		if !regexp.MustCompile(`^[0-9A-Za-z_-]{6,32}$`).MatchString(b1.OutTradeNo) {
			t.Fatalf("out_trade_no %q not 6-32 [0-9A-Za-z_-]", b1.OutTradeNo)
		}
	})

	t.Run("OtherUsersQuoteNotFound", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		_, err := e.svc.CreateOrder(ctx, 2, "q1")
		if got, want := service.ErrorKind(err), service.KindNotFound; got != want {
			t.Fatalf("kind=%v (%v), want not found", got, err)
		}
		if n := count(t, e.db, "orders", ""); n != 0 {
			t.Fatalf("orders=%d, want 0", n)
		}
	})

	t.Run("ExpiredQuoteRefused", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		e.clock.Advance(time.Hour)
		_, err := e.svc.CreateOrder(ctx, 1, "q1")
		if got, want := service.ErrorCode(err), service.CodeQuoteExpired; got != want {
			t.Fatalf("code=%q, want %q", got, want)
		}
		if got, want := service.ErrorKind(err), service.KindUnprocessable; got != want {
			t.Fatalf("kind=%v, want unprocessable", got)
		}
	})

	t.Run("QuoteAlreadyOrderedNamesTheOrder", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		_, err := e.svc.CreateOrder(ctx, 1, "q1")
		if got, want := service.ErrorCode(err), service.CodeQuoteAlreadyOrdered; got != want {
			t.Fatalf("code=%q, want %q", got, want)
		}
		if !strings.Contains(service.AsError(err).Message, o.No) {
			t.Fatalf("message %q does not name order %s", service.AsError(err).Message, o.No)
		}
		if n := count(t, e.db, "orders", ""); n != 1 {
			t.Fatalf("orders=%d, want 1", n)
		}
	})

	t.Run("PrepayFailureKeepsOrderPayableLater", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		e.gw.failPrepay = errors.New("wechat down")
		_, err := e.svc.CreateOrder(ctx, 1, "q1")
		if got, want := service.ErrorCode(err), service.CodePrepayFailed; got != want {
			t.Fatalf("code=%q, want %q", got, want)
		}
		orders, _, err := e.svc.FindOrders(ctx, 1, 1, 20)
		if err != nil || len(orders) != 1 || orders[0].Status != service.StatusPendingPayment {
			t.Fatalf("orders=%v err=%v, want one pending order", orders, err)
		}
		e.gw.failPrepay = nil
		res, err := e.svc.PayBatch(ctx, 1, orders[0].No, 1)
		if err != nil {
			t.Fatalf("PayBatch after failed prepay: %v", err)
		}
		if res.PayParams.Package == "" {
			t.Fatalf("no pay params")
		}
	})
}

func TestPayBatch(t *testing.T) {
	ctx := context.Background()

	t.Run("BatchesPaidInTurn", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000, 2000)
		o := e.mustCreate(t, 1, "q1")
		_, err := e.svc.PayBatch(ctx, 1, o.No, 2)
		if got, want := service.ErrorCode(err), service.CodeBatchOutOfOrder; got != want {
			t.Fatalf("pay 2 before 1: code=%q, want %q", got, want)
		}
		tr := e.gw.pay(t, service.OutTradeNo(o.No, 1), orderNow.Add(time.Minute))
		if err := e.svc.HandleTransaction(ctx, successEvent("EV-1", tr)); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.PayBatch(ctx, 1, o.No, 1)
		if got, want := service.ErrorCode(err), service.CodeBatchPaid; got != want {
			t.Fatalf("pay paid batch: code=%q, want %q", got, want)
		}
		res, err := e.svc.PayBatch(ctx, 1, o.No, 2)
		if err != nil {
			t.Fatalf("pay 2 after 1: %v", err)
		}
		if got, want := e.batch(t, o.No, 2).PrepayID, strings.TrimPrefix(res.PayParams.Package, "prepay_id="); got != want {
			t.Fatalf("stored prepay=%q, want %q", got, want)
		}
	})

	t.Run("ReusesYoungPrepayThenPrepaysAgainSameOutTradeNo", func(t *testing.T) {
		clock := service.NewManualClock(orderNow)
		e := newSQLiteOrderEnv(t)
		e.clock = clock
		e.deps.Clock, e.deps.Settings.OrderTTL = e.clock, 3*time.Hour
		e.svc = service.NewOrderService(e.deps)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		first := e.batch(t, o.No, 1).PrepayID
		clock.Advance(100 * time.Minute)
		res, err := e.svc.PayBatch(ctx, 1, o.No, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.PayParams.Package, "prepay_id="+first; got != want {
			t.Fatalf("package=%q, want reused %q", got, want)
		}
		clock.Advance(15 * time.Minute)
		res, err = e.svc.PayBatch(ctx, 1, o.No, 1)
		if err != nil {
			t.Fatal(err)
		}
		if res.PayParams.Package == "prepay_id="+first {
			t.Fatalf("prepay_id older than 110m reused")
		}
		if got, want := len(e.gw.prepays), 2; got != want {
			t.Fatalf("prepays=%d, want %d", got, want)
		}
		if a, b := e.gw.prepays[0], e.gw.prepays[1]; a.OutTradeNo != b.OutTradeNo || !a.ExpireAt.Equal(b.ExpireAt) {
			t.Fatalf("re-prepay changed out_trade_no or time_expire: %+v vs %+v", a, b)
		}
	})

	t.Run("OtherUserNotFound", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		for name, err := range map[string]error{
			"pay":    second(e.svc.PayBatch(ctx, 2, o.No, 1)),
			"find":   second(e.svc.FindOrder(ctx, 2, o.No)),
			"detail": second(e.svc.FindOrderDetail(ctx, 2, o.No)),
			"cancel": second(e.svc.CancelOrder(ctx, 2, o.No)),
		} {
			if got := service.ErrorKind(err); got != service.KindNotFound {
				t.Errorf("%s by another user: kind=%v (%v), want not found", name, got, err)
			}
		}
		if got := e.batch(t, o.No, 1).Status; got != service.StatusPendingPayment {
			t.Fatalf("status=%s after another user's cancel, want pending", got)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestHandleTransaction(t *testing.T) {
	ctx := context.Background()

	t.Run("FirstDeliveryPaysDuplicateChangesNothing", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		paidAt := orderNow.Add(2 * time.Minute)
		tr := e.gw.pay(t, service.OutTradeNo(o.No, 1), paidAt)
		for i := 0; i < 3; i++ {
			if err := e.svc.HandleTransaction(ctx, successEvent("EV-1", tr)); err != nil {
				t.Fatalf("delivery %d: %v", i, err)
			}
		}
		b := e.batch(t, o.No, 1)
		if b.Status != service.StatusPaid || b.TransactionID != tr.TransactionID || !b.PaidAt.Equal(paidAt) {
			t.Fatalf("batch=%+v, want paid with %s at %v", b, tr.TransactionID, paidAt)
		}
		for table, want := range map[string]int{"payment_events": 1, "outbox": 1, "alerts": 0} {
			if got := count(t, e.db, table, ""); got != want {
				t.Errorf("%s rows=%d, want %d", table, got, want)
			}
		}
		if got := count(t, e.db, "order_events", "type = ?", "paid"); got != 1 {
			t.Errorf("paid events=%d, want 1", got)
		}
		var deadline time.Time
		e.db.Raw("SELECT deadline_at FROM outbox WHERE kind = ? AND ref = ?", service.JobPostBatch, b.OutTradeNo).Scan(&deadline)
		if want := paidAt.Add(72 * time.Hour); !deadline.Equal(want) {
			t.Errorf("post deadline=%v, want %v", deadline, want)
		}
		// Our own query of the same payment is a duplicate too.
		if err := e.svc.ApplyQueried(ctx, tr); err != nil {
			t.Fatal(err)
		}
		if got := count(t, e.db, "outbox", ""); got != 1 {
			t.Fatalf("outbox=%d after query duplicate, want 1", got)
		}
	})

	t.Run("MismatchRefusedAlertedNothingChanged", func(t *testing.T) {
		for name, mutate := range map[string]func(*service.Trade){
			"amount":   func(t *service.Trade) { t.TotalFen++ },
			"appid":    func(t *service.Trade) { t.AppID = "wxother" },
			"mchid":    func(t *service.Trade) { t.MchID = "1999999999" },
			"currency": func(t *service.Trade) { t.Currency = "USD" },
			"state":    func(t *service.Trade) { t.State = service.TradeNotPay },
		} {
			t.Run(name, func(t *testing.T) {
				e := newSQLiteOrderEnv(t)
				e.addQuote(t, "q1", 1, 1000)
				o := e.mustCreate(t, 1, "q1")
				tr := e.gw.pay(t, service.OutTradeNo(o.No, 1), orderNow)
				mutate(&tr)
				err := e.svc.HandleTransaction(ctx, successEvent("EV-bad", tr))
				if got, want := service.ErrorCode(err), service.CodeNotifyMismatch; got != want {
					t.Fatalf("code=%q (%v), want %q", got, err, want)
				}
				if got, want := service.ErrorKind(err), service.KindInvalid; got != want {
					t.Fatalf("kind=%v, want invalid (400)", got)
				}
				if b := e.batch(t, o.No, 1); b.Status != service.StatusPendingPayment || b.TransactionID != "" {
					t.Fatalf("batch changed: %+v", b)
				}
				if got := count(t, e.db, "alerts", "kind = ?", service.AlertNotifyMismatch); got != 1 {
					t.Fatalf("mismatch alerts=%d, want 1", got)
				}
				if got := count(t, e.db, "outbox", ""); got != 0 {
					t.Fatalf("outbox=%d, want 0", got)
				}
			})
		}
	})

	t.Run("UnknownOutTradeNoAlerted", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		tr := service.Trade{AppID: testAppID, MchID: testMchID, OutTradeNo: "OTHER-SYSTEM-1", TransactionID: "4200x",
			State: service.TradeSuccess, TotalFen: 1, Currency: "CNY"}
		err := e.svc.HandleTransaction(ctx, successEvent("EV-u", tr))
		if !errors.Is(err, service.ErrUnknownTrade) {
			t.Fatalf("err=%v, want ErrUnknownTrade", err)
		}
		if got := count(t, e.db, "alerts", "kind = ? AND ref = ?", service.AlertUnknownTrade, "OTHER-SYSTEM-1"); got != 1 {
			t.Fatalf("unknown-trade alerts=%d, want 1", got)
		}
	})

	t.Run("PaidAfterCloseStaysClosedAndAlerts", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		if _, err := e.svc.CancelOrder(ctx, 1, o.No); err != nil {
			t.Fatal(err)
		}
		tr := service.Trade{AppID: testAppID, MchID: testMchID, OutTradeNo: service.OutTradeNo(o.No, 1), TransactionID: "4200late",
			State: service.TradeSuccess, TotalFen: 1000, Currency: "CNY", SuccessTime: orderNow}
		if err := e.svc.HandleTransaction(ctx, successEvent("EV-late", tr)); err != nil {
			t.Fatalf("err=%v, want acknowledged", err)
		}
		if b := e.batch(t, o.No, 1); b.Status != service.StatusClosed {
			t.Fatalf("status=%s, want closed", b.Status)
		}
		if got := count(t, e.db, "alerts", "kind = ?", service.AlertPaidAfterClose); got != 1 {
			t.Fatalf("paid-after-close alerts=%d, want 1", got)
		}
		if got := count(t, e.db, "outbox", ""); got != 0 {
			t.Fatalf("outbox=%d, want 0", got)
		}
	})
}

func TestCancelOrder(t *testing.T) {
	ctx := context.Background()

	t.Run("UnpaidClosedAtWeChatThenHere", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000, 2000)
		o := e.mustCreate(t, 1, "q1")
		res, err := e.svc.CancelOrder(ctx, 1, o.No)
		if err != nil {
			t.Fatal(err)
		}
		if !res.FullyCancelled || res.Order.Status != service.StatusClosed {
			t.Fatalf("result=%+v, want fully cancelled", res)
		}
		// Batch 1 had a prepay: closed at WeChat. Batch 2 never reached it.
		if got, want := e.gw.closes, []string{service.OutTradeNo(o.No, 1)}; len(got) != 1 || got[0] != want[0] {
			t.Fatalf("closes=%v, want %v", got, want)
		}
		if got := count(t, e.db, "order_events", "type = ?", "closed"); got != 2 {
			t.Fatalf("closed events=%d, want 2", got)
		}
	})

	t.Run("PaidAtWeChatIsMarkedPaidNeverClosed", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000, 2000)
		o := e.mustCreate(t, 1, "q1")
		e.gw.pay(t, service.OutTradeNo(o.No, 1), orderNow) // notification lost
		res, err := e.svc.CancelOrder(ctx, 1, o.No)
		if err != nil {
			t.Fatal(err)
		}
		if res.FullyCancelled {
			t.Fatalf("FullyCancelled=true with a paid batch")
		}
		if b := e.batch(t, o.No, 1); b.Status != service.StatusPaid {
			t.Fatalf("batch 1 status=%s, want paid", b.Status)
		}
		if b := e.batch(t, o.No, 2); b.Status != service.StatusClosed {
			t.Fatalf("batch 2 status=%s, want closed", b.Status)
		}
		if n := e.gw.closeCount(); n != 0 {
			t.Fatalf("closes=%d, want 0 (batch 2 never reached WeChat, batch 1 is paid)", n)
		}
		if got := count(t, e.db, "outbox", "kind = ?", service.JobPostBatch); got != 1 {
			t.Fatalf("post jobs=%d, want 1", got)
		}
	})

	t.Run("FullyPaidNotCancellable", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		tr := e.gw.pay(t, service.OutTradeNo(o.No, 1), orderNow)
		if err := e.svc.HandleTransaction(ctx, successEvent("EV-1", tr)); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.CancelOrder(ctx, 1, o.No)
		if got, want := service.ErrorCode(err), service.CodeOrderNotCancellable; got != want {
			t.Fatalf("code=%q, want %q", got, want)
		}
	})

	t.Run("QueryFailureLeavesBatchPending", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		e.gw.failQuery = errors.New("timeout")
		_, err := e.svc.CancelOrder(ctx, 1, o.No)
		if got := service.ErrorKind(err); got != service.KindUnavailable {
			t.Fatalf("kind=%v (%v), want unavailable", got, err)
		}
		if b := e.batch(t, o.No, 1); b.Status != service.StatusPendingPayment {
			t.Fatalf("status=%s, want pending", b.Status)
		}
	})
}
