package wxpay_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/paysim"
	"github.com/shebao/sipay/wxpay"
	"github.com/shebao/sipay/wxpay/wxpaytest"
)

var payNow = time.Date(2025, 3, 1, 10, 0, 0, 0, service.Shanghai)

// receiver is a merchant notify endpoint that parses with the real parser.
type receiver struct {
	mu     sync.Mutex
	events []any
	errs   []error
}

func newReceiver(tb testing.TB, parser func() *wxpay.NotifyParser) (*receiver, *httptest.Server) {
	tb.Helper()
	rc := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := parser().Parse(r.Header, body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if err != nil {
			rc.errs = append(rc.errs, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.events = append(rc.events, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	tb.Cleanup(srv.Close)
	return rc, srv
}

func (rc *receiver) snapshot() ([]any, []error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]any(nil), rc.events...), append([]error(nil), rc.errs...)
}

type env struct {
	clock  *service.ManualClock
	sim    *paysim.Sim
	client *wxpay.Client
	rc     *receiver
	srv    *httptest.Server
}

func newEnv(tb testing.TB, opts ...wxpaytest.Option) *env {
	tb.Helper()
	e := &env{clock: service.NewManualClock(payNow)}
	var parser *wxpay.NotifyParser
	var rsrv *httptest.Server
	e.rc, rsrv = newReceiver(tb, func() *wxpay.NotifyParser { return parser })
	e.sim, e.client, parser, e.srv = wxpaytest.NewWithNotifyURL(tb, e.clock, rsrv.URL+"/pay/notify", opts...)
	return e
}

func waitDelivery(tb testing.TB, sim *paysim.Sim, event, key string) paysim.Delivery {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := sim.WaitDelivery(ctx, event, key)
	if err != nil {
		tb.Fatalf("WaitDelivery(%s, %s): %v", event, key, err)
	}
	return d
}

func mustPrepay(tb testing.TB, e *env, no string, fen service.Fen) service.PayParams {
	tb.Helper()
	p, err := e.client.Prepay(context.Background(), service.Prepay{OutTradeNo: no, Description: "社保缴费-城乡居民养老保险",
		Attach: "order:" + no, PayerOpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", AmountFen: fen, ExpireAt: e.clock.Now().Add(30 * time.Minute)})
	if err != nil {
		tb.Fatalf("Prepay(%s): %v", no, err)
	}
	return p
}

func gatewayCode(tb testing.TB, err error) (int, string) {
	tb.Helper()
	var ge *service.GatewayError
	if !errors.As(err, &ge) {
		tb.Fatalf("error %v is not a *service.GatewayError", err)
	}
	return ge.Status, ge.Code
}

func TestClient_PayRefundAndBillEndToEnd(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	k := wxpaytest.Keys(t)
	const no = "SB20250301000001"

	params := mustPrepay(t, e, no, 1999) // 19.99 yuan: int64(19.99*100) would be 1998
	if params.Package != "prepay_id="+params.PrepayID || params.SignType != "RSA" || params.AppID != k.AppID {
		t.Fatalf("got params %+v", params)
	}
	if got, want := params.TimeStamp, strconv.FormatInt(payNow.Unix(), 10); got != want {
		t.Errorf("timeStamp=%s, want %s", got, want)
	}
	// paySign is SHA256withRSA over appId\ntimeStamp\nnonceStr\npackage\n (merchant key).
	msg := params.AppID + "\n" + params.TimeStamp + "\n" + params.NonceStr + "\n" + params.Package + "\n"
	sig, err := base64.StdEncoding.DecodeString(params.PaySign)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(msg))
	if err := rsa.VerifyPKCS1v15(&k.MerchantKey.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("paySign does not verify with the merchant public key: %v", err)
	}

	tr, err := e.client.QueryTrade(ctx, no)
	if err != nil || tr.State != service.TradeNotPay {
		t.Fatalf("QueryTrade before pay = %+v, %v; want NOTPAY", tr, err)
	}

	if _, err := e.sim.RequestPayment(params); err != nil {
		t.Fatalf("RequestPayment: %v", err)
	}
	if d := waitDelivery(t, e.sim, "TRANSACTION.SUCCESS", no); !d.Acked || d.Sent != 1 {
		t.Fatalf("delivery %+v, want acked after 1 send", d)
	}
	events, errs := e.rc.snapshot()
	if len(errs) != 0 || len(events) != 1 {
		t.Fatalf("receiver got %d events, errors %v; want 1 event", len(events), errs)
	}
	ev := events[0].(service.TransactionEvent)
	if ev.Trade.OutTradeNo != no || ev.Trade.TotalFen != 1999 || ev.Trade.State != service.TradeSuccess || ev.Trade.Attach != "order:"+no {
		t.Errorf("notified trade %+v", ev.Trade)
	}

	tr, err = e.client.QueryTrade(ctx, no)
	if err != nil {
		t.Fatalf("QueryTrade: %v", err)
	}
	if tr.State != service.TradeSuccess || tr.TotalFen != 1999 || tr.TransactionID != ev.Trade.TransactionID || !tr.SuccessTime.Equal(payNow) {
		t.Errorf("QueryTrade = %+v, want SUCCESS 1999 fen paid at %v", tr, payNow)
	}

	err = e.client.CloseTrade(ctx, no)
	if status, code := gatewayCode(t, err); status != 400 || code != "ORDERPAID" {
		t.Errorf("CloseTrade on paid = %d %s, want 400 ORDERPAID", status, code)
	}

	req := service.RefundRequest{OutTradeNo: no, OutRefundNo: "RF20250301000001", Reason: "未能缴费", RefundFen: 115, TotalFen: 1999}
	r1, err := e.client.CreateRefund(ctx, req)
	if err != nil {
		t.Fatalf("CreateRefund: %v", err)
	}
	r2, err := e.client.CreateRefund(ctx, req)
	if err != nil {
		t.Fatalf("CreateRefund again: %v", err)
	}
	if r1.RefundID == "" || r2.RefundID != r1.RefundID || r1.RefundFen != 115 || r1.TotalFen != 1999 {
		t.Errorf("refunds %+v and %+v, want the same refund of 115 fen", r1, r2)
	}
	waitDelivery(t, e.sim, "REFUND.SUCCESS", req.OutRefundNo)
	got, err := e.client.QueryRefund(ctx, req.OutRefundNo)
	if err != nil || got.Status != service.RefundSuccess || got.RefundFen != 115 || got.SuccessTime.IsZero() {
		t.Errorf("QueryRefund = %+v, %v; want SUCCESS 115 fen", got, err)
	}
	if l, _ := e.sim.Ledger().Trade(no); l.SuccessfulRefunds != 1 || l.RefundedFen != 115 {
		t.Errorf("ledger %+v, want 1 refund of 115 fen", l)
	}
	events, _ = e.rc.snapshot()
	if rev, ok := events[len(events)-1].(service.RefundEvent); !ok || rev.Refund.OutRefundNo != req.OutRefundNo || rev.Refund.Status != "SUCCESS" {
		t.Errorf("last event %+v, want REFUND.SUCCESS for %s", events[len(events)-1], req.OutRefundNo)
	}

	rows, err := e.client.TradeBill(ctx, payNow)
	if err != nil {
		t.Fatalf("TradeBill: %v", err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d bill rows, want 2: %+v", len(rows), rows)
	}
	if r := rows[0]; r.TradeState != "SUCCESS" || r.OutTradeNo != no || r.TotalFen != 1999 || r.TransactionID != tr.TransactionID || !r.TradeTime.Equal(payNow) || r.MchID != k.MchID {
		t.Errorf("success row %+v", r)
	}
	if r := rows[1]; r.TradeState != "REFUND" || r.RefundFen != 115 || r.OutRefundNo != req.OutRefundNo || r.RefundID != r1.RefundID || r.RefundStatus != "SUCCESS" {
		t.Errorf("refund row %+v", r)
	}
}

func TestClient_QueryUnknownTradeIsNotFound(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.QueryTrade(context.Background(), "SB_NEVER_CREATED")
	if !errors.Is(err, service.ErrTradeNotFound) {
		t.Fatalf("QueryTrade error = %v, want ErrTradeNotFound", err)
	}
	if _, code := gatewayCode(t, err); code != "ORDER_NOT_EXIST" {
		t.Errorf("code %s, want ORDER_NOT_EXIST", code)
	}
}

func TestClient_ClosedTradeCannotBePaid(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := mustPrepay(t, e, "SB_CLOSE_1", 100)
	if err := e.client.CloseTrade(ctx, "SB_CLOSE_1"); err != nil {
		t.Fatalf("CloseTrade: %v", err)
	}
	if tr, err := e.client.QueryTrade(ctx, "SB_CLOSE_1"); err != nil || tr.State != service.TradeClosed {
		t.Fatalf("QueryTrade = %+v, %v; want CLOSED", tr, err)
	}
	if _, err := e.sim.Pay(p.PrepayID); !errors.Is(err, paysim.ErrTradeClosed) {
		t.Errorf("Pay after close error = %v, want ErrTradeClosed", err)
	}
}

func TestClient_ExpiredUnpaidTradeStaysNotPay(t *testing.T) {
	e := newEnv(t)
	p := mustPrepay(t, e, "SB_EXPIRE_1", 100)
	e.clock.Advance(31 * time.Minute)
	if tr, err := e.client.QueryTrade(context.Background(), "SB_EXPIRE_1"); err != nil || tr.State != service.TradeNotPay {
		t.Fatalf("QueryTrade after time_expire = %+v, %v; want NOTPAY", tr, err)
	}
	if _, err := e.sim.Pay(p.PrepayID); !errors.Is(err, paysim.ErrTradeExpired) {
		t.Errorf("Pay after time_expire error = %v, want ErrTradeExpired", err)
	}
}

func TestClient_RePrepayGivesFreshPrepayIDAndChangedAmountIsRefused(t *testing.T) {
	e := newEnv(t)
	p1 := mustPrepay(t, e, "SB_REPAY_1", 500)
	p2 := mustPrepay(t, e, "SB_REPAY_1", 500)
	if p1.PrepayID == p2.PrepayID {
		t.Errorf("re-prepay returned the same prepay_id %s", p1.PrepayID)
	}
	_, err := e.client.Prepay(context.Background(), service.Prepay{OutTradeNo: "SB_REPAY_1", Description: "x",
		PayerOpenID: "o1", AmountFen: 501, ExpireAt: payNow.Add(time.Hour)})
	if status, code := gatewayCode(t, err); status != 400 || code != "INVALID_REQUEST" {
		t.Errorf("prepay with changed amount = %d %s, want 400 INVALID_REQUEST", status, code)
	}
	fresh, err := e.client.PayParamsFor(p1.PrepayID)
	if err != nil || fresh.Package != "prepay_id="+p1.PrepayID {
		t.Fatalf("PayParamsFor = %+v, %v", fresh, err)
	}
	if _, err := e.sim.RequestPayment(fresh); err != nil {
		t.Errorf("paying with fresh params: %v", err)
	}
}

func TestClient_PrepayRefusesBadOutTradeNo(t *testing.T) {
	e := newEnv(t)
	for _, no := range []string{"abc", "SB 2025 0301", "SB2025030100000000000000000000001"} {
		_, err := e.client.Prepay(context.Background(), service.Prepay{OutTradeNo: no, Description: "x",
			PayerOpenID: "o1", AmountFen: 1, ExpireAt: payNow.Add(time.Hour)})
		if status, code := gatewayCode(t, err); status != 400 || code != "PARAM_ERROR" {
			t.Errorf("out_trade_no %q: got %d %s, want 400 PARAM_ERROR", no, status, code)
		}
	}
}

func payOrder(tb testing.TB, e *env, no string, fen service.Fen) {
	tb.Helper()
	p := mustPrepay(tb, e, no, fen)
	if _, err := e.sim.Pay(p.PrepayID); err != nil {
		tb.Fatalf("Pay: %v", err)
	}
	waitDelivery(tb, e.sim, "TRANSACTION.SUCCESS", no)
}

func TestClient_RefundFailuresMapToGatewayErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	payOrder(t, e, "SB_RF_1", 1000)
	e.sim.SetRefundBehavior("SB_RF_1", paysim.RefundBehavior{FailCode: "NOT_ENOUGH", FailTimes: 1})
	_, err := e.client.CreateRefund(ctx, service.RefundRequest{OutTradeNo: "SB_RF_1", OutRefundNo: "RF_1", RefundFen: 1000, TotalFen: 1000})
	if status, code := gatewayCode(t, err); status != 403 || code != "NOT_ENOUGH" {
		t.Errorf("got %d %s, want 403 NOT_ENOUGH", status, code)
	}
	// The ambiguous case: WeChat accepted, then answered SYSTEM_ERROR. The retry
	// with the same out_refund_no finds the same refund; nothing is refunded twice.
	e.sim.SetRefundBehavior("SB_RF_1", paysim.RefundBehavior{FailCode: "SYSTEM_ERROR", FailTimes: 1, FailAfterAccept: true})
	req := service.RefundRequest{OutTradeNo: "SB_RF_1", OutRefundNo: "RF_2", RefundFen: 1000, TotalFen: 1000}
	_, err = e.client.CreateRefund(ctx, req)
	if status, code := gatewayCode(t, err); status != 500 || code != "SYSTEM_ERROR" {
		t.Errorf("got %d %s, want 500 SYSTEM_ERROR", status, code)
	}
	if _, err := e.client.CreateRefund(ctx, req); err != nil {
		t.Fatalf("retry CreateRefund: %v", err)
	}
	waitDelivery(t, e.sim, "REFUND.SUCCESS", "RF_2")
	// A new out_refund_no for the same money is refused: the trade is fully refunded.
	_, err = e.client.CreateRefund(ctx, service.RefundRequest{OutTradeNo: "SB_RF_1", OutRefundNo: "RF_3", RefundFen: 1000, TotalFen: 1000})
	if status, code := gatewayCode(t, err); status != 400 || code != "INVALID_REQUEST" {
		t.Errorf("over-refund got %d %s, want 400 INVALID_REQUEST", status, code)
	}
	if l, _ := e.sim.Ledger().Trade("SB_RF_1"); l.SuccessfulRefunds != 1 || l.RefundedFen != 1000 {
		t.Errorf("ledger %+v, want exactly one refund of 1000 fen", l)
	}
}

func TestClient_RefundAbnormalIsNotified(t *testing.T) {
	e := newEnv(t)
	payOrder(t, e, "SB_AB_1", 300)
	e.sim.SetRefundBehavior("", paysim.RefundBehavior{EndStatus: "ABNORMAL"})
	if _, err := e.client.CreateRefund(context.Background(), service.RefundRequest{OutTradeNo: "SB_AB_1", OutRefundNo: "RF_AB_1", RefundFen: 300, TotalFen: 300}); err != nil {
		t.Fatal(err)
	}
	waitDelivery(t, e.sim, "REFUND.ABNORMAL", "RF_AB_1")
	r, err := e.client.QueryRefund(context.Background(), "RF_AB_1")
	if err != nil || r.Status != service.RefundAbnormal {
		t.Errorf("QueryRefund = %+v, %v; want ABNORMAL", r, err)
	}
	if l, _ := e.sim.Ledger().Trade("SB_AB_1"); l.SuccessfulRefunds != 0 {
		t.Errorf("ledger %+v, want no successful refund", l)
	}
}

func TestClient_BillShowsInjectedMismatch(t *testing.T) {
	e := newEnv(t)
	payOrder(t, e, "SB_BILL_1", 4200)
	payOrder(t, e, "SB_BILL_2", 1)
	e.sim.InjectBillMismatch("SB_BILL_2", 2)
	rows, err := e.client.TradeBill(context.Background(), payNow)
	if err != nil {
		t.Fatalf("TradeBill: %v", err)
	}
	got := map[string]service.Fen{}
	for _, r := range rows {
		got[r.OutTradeNo] = r.TotalFen
	}
	if got["SB_BILL_1"] != 4200 || got["SB_BILL_2"] != 2 || len(rows) != 2 {
		t.Errorf("bill amounts %v, want SB_BILL_1=4200 SB_BILL_2=2", got)
	}
	if rows, err := e.client.TradeBill(context.Background(), payNow.AddDate(0, 0, -1)); err != nil || len(rows) != 0 {
		t.Errorf("empty day: got %d rows, %v; want none, nil", len(rows), err)
	}
}

func TestClient_ResponseSignedByAnotherKeyIsRejected(t *testing.T) {
	e := newEnv(t)
	mustPrepay(t, e, "SB_ANY_0001", 100)
	srv := e.srv
	k := wxpaytest.Keys(t)
	mustKeys(t)
	cfg := wxpaytest.ClientConfig(k, srv.URL, wxpaytest.NotifyURL)
	cfg.PublicKey = &otherKey.PublicKey
	c, err := wxpay.New(cfg, service.NewManualClock(payNow))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.QueryTrade(context.Background(), "SB_ANY_0001")
	var ge *service.GatewayError
	if err == nil || errors.As(err, &ge) || errors.Is(err, service.ErrTradeNotFound) {
		t.Fatalf("QueryTrade error = %v, want a signature validation failure", err)
	}
}

// The simulator closes refunds as WeChat does and never reopens a CLOSED
// out_refund_no: sending it again answers the closed refund and moves no
// money. A closed refund no longer counts against the trade, so a new
// out_refund_no (the next attempt) refunds the amount, once.
func TestClient_ClosedRefundIsNeverReopenedAndANewNumberRefunds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	payOrder(t, e, "SB_CL_1", 800)
	e.sim.SetRefundBehavior("SB_CL_1", paysim.RefundBehavior{EndStatus: "CLOSED"})
	first := service.RefundRequest{OutTradeNo: "SB_CL_1", OutRefundNo: service.RefundAttemptNo("SB_CL_1", 1), RefundFen: 800, TotalFen: 800}
	if _, err := e.client.CreateRefund(ctx, first); err != nil {
		t.Fatal(err)
	}
	waitDelivery(t, e.sim, "REFUND.CLOSED", first.OutRefundNo)
	e.sim.SetRefundBehavior("SB_CL_1", paysim.RefundBehavior{})
	again, err := e.client.CreateRefund(ctx, first)
	if err != nil || again.Status != service.RefundClosed || again.OutRefundNo != first.OutRefundNo {
		t.Fatalf("resend of a closed out_refund_no: got %+v, %v; want the CLOSED refund", again, err)
	}
	second := first
	second.OutRefundNo = service.RefundAttemptNo("SB_CL_1", 2)
	res, err := e.client.CreateRefund(ctx, second)
	if err != nil || res.OutRefundNo != second.OutRefundNo || res.OutTradeNo != "SB_CL_1" || res.RefundFen != 800 || res.TotalFen != 800 {
		t.Fatalf("second attempt: got %+v, %v", res, err)
	}
	waitDelivery(t, e.sim, "REFUND.SUCCESS", second.OutRefundNo)
	third := first
	third.OutRefundNo = service.RefundAttemptNo("SB_CL_1", 3)
	if _, err := e.client.CreateRefund(ctx, third); err == nil {
		t.Fatalf("a third refund of a refunded trade was accepted")
	}
	if l, _ := e.sim.Ledger().Trade("SB_CL_1"); l.SuccessfulRefunds != 1 || l.RefundedFen != 800 {
		t.Errorf("ledger %+v, want exactly one refund of 800 fen", l)
	}
}
