package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

func rejectAll(int, service.Posting) (service.PostingResult, error) {
	return service.PostingResult{}, &service.PlatformRejection{Code: service.RejectNotInsured, Reason: "未参保"}
}

func TestRefundSystemErrorIsRetriedWithTheSameOutRefundNoAndAlerted(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		h.platform.answer = rejectAll
		h.gw.answer = func(n int, r service.RefundRequest) (service.RefundResult, error) {
			if n == 1 {
				return service.RefundResult{}, &service.GatewayError{Status: 500, Code: "SYSTEM_ERROR", Message: "系统超时"}
			}
			return service.RefundResult{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, Status: service.RefundSuccess, Channel: "BALANCE", RefundFen: r.RefundFen, TotalFen: r.TotalFen}, nil
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(6), uid, 11, 150000)
		h.run()
		h.wantStatus(otn, service.StatusRefunding)
		if as := h.alerts(service.AlertRefundFailed); len(as) != 1 || !strings.Contains(as[0].Detail, "SYSTEM_ERROR") {
			t.Fatalf("refund_failed alerts: got %+v, want one naming SYSTEM_ERROR", as)
		}
		h.clock.Advance(time.Minute)
		h.run()
		h.wantStatus(otn, service.StatusRefunded)
		if len(h.gw.reqs) != 2 || h.gw.reqs[0].OutRefundNo != h.gw.reqs[1].OutRefundNo || h.gw.reqs[0].OutRefundNo != service.OutRefundNo(otn) {
			t.Fatalf("refund requests: got %+v, want two with out_refund_no %s", h.gw.reqs, service.OutRefundNo(otn))
		}
		if h.gw.reqs[1].RefundFen != 150000 || h.gw.reqs[1].TotalFen != 150000 {
			t.Fatalf("refund amounts: got %d/%d, want 150000/150000", h.gw.reqs[1].RefundFen, h.gw.reqs[1].TotalFen)
		}
		if n := h.refundCount(); n != 1 {
			t.Fatalf("refund rows: got %d, want 1", n)
		}
	})
}

func TestRefundAbnormalAlertsOperationsOnce(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = rejectAll
		h.gw.answer = func(n int, r service.RefundRequest) (service.RefundResult, error) {
			return service.RefundResult{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, Status: service.RefundAbnormal, RefundFen: r.RefundFen, TotalFen: r.TotalFen}, nil
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(7), uid, 11, 150000)
		h.run()
		h.wantStatus(otn, service.StatusRefunding)
		ev := service.RefundEvent{EventID: "EV-AB", EventType: "REFUND.ABNORMAL", Refund: service.RefundResult{
			MchID: testMchID, OutRefundNo: service.OutRefundNo(otn), OutTradeNo: otn, Status: service.RefundAbnormal, RefundFen: 150000, TotalFen: 150000}}
		if err := h.refunds.HandleRefundEvent(ctx, ev); err != nil {
			t.Fatalf("abnormal event: %v", err)
		}
		h.clock.Advance(2 * time.Hour) // the watcher queries again
		h.run()
		if as := h.alerts(service.AlertRefundAbnormal); len(as) != 1 {
			t.Fatalf("refund_abnormal alerts: got %d, want 1", len(as))
		}
		if n := countType(h.events(otn), "refund_abnormal"); n != 1 {
			t.Fatalf("refund_abnormal events: got %d, want 1", n)
		}
		// Operations fix it in the merchant console; WeChat notifies success.
		h.gw.setState(service.OutRefundNo(otn), service.RefundSuccess)
		h.clock.Advance(2 * time.Hour)
		h.run()
		h.wantStatus(otn, service.StatusRefunded)
		if n := h.gw.createsOf(service.OutRefundNo(otn)); n != 1 {
			t.Fatalf("gateway refunds: got %d, want 1", n)
		}
	})
}

func TestRefundNotificationForUnknownOrMismatchingRefundIsAlertedNotApplied(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = rejectAll
		h.gw.answer = func(n int, r service.RefundRequest) (service.RefundResult, error) {
			return service.RefundResult{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, Status: service.RefundProcessing, RefundFen: r.RefundFen, TotalFen: r.TotalFen}, nil
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(8), uid, 11, 150000)
		h.run()
		if err := h.refunds.HandleRefundEvent(ctx, service.RefundEvent{EventID: "x1", EventType: "REFUND.SUCCESS",
			Refund: service.RefundResult{OutRefundNo: "RFnope_01", Status: service.RefundSuccess}}); err != nil {
			t.Fatalf("unknown: %v", err)
		}
		if err := h.refunds.HandleRefundEvent(ctx, service.RefundEvent{EventID: "x2", EventType: "REFUND.SUCCESS",
			Refund: service.RefundResult{OutRefundNo: service.OutRefundNo(otn), OutTradeNo: otn, RefundFen: 1, Status: service.RefundSuccess}}); err != nil {
			t.Fatalf("mismatch: %v", err)
		}
		h.wantStatus(otn, service.StatusRefunding)
		if len(h.alerts(service.AlertUnknownRefund)) != 1 || len(h.alerts(service.AlertNotifyMismatch)) != 1 {
			t.Fatalf("alerts: want one unknown_refund and one notify_mismatch")
		}
	})
}

func TestClosedRefundIsRetriedByOperationsUnderANewDeterministicOutRefundNo(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = rejectAll
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(9), uid, 11, 150000)
		first, second, third := service.OutRefundNo(otn), service.RefundAttemptNo(otn, 2), service.RefundAttemptNo(otn, 3)
		if second != "RF"+otn+"_R2" {
			t.Fatalf("second attempt number: got %s, want RF%s_R2", second, otn)
		}
		// WeChat closes the first two attempts; the fake, like WeChat, never
		// reopens a closed out_refund_no.
		h.gw.answer = func(n int, r service.RefundRequest) (service.RefundResult, error) {
			status := service.RefundSuccess
			if r.OutRefundNo == first || r.OutRefundNo == second {
				status = service.RefundClosed
			}
			return service.RefundResult{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, Status: status, RefundFen: r.RefundFen, TotalFen: r.TotalFen}, nil
		}
		h.run()
		h.wantStatus(otn, service.StatusRefunding)
		if n := len(h.alerts(service.AlertRefundClosed)); n != 1 {
			t.Fatalf("refund_closed alerts: got %d, want 1", n)
		}
		h.clock.Advance(time.Hour)
		h.run()
		if n := h.gw.createsOf(first); n != 1 {
			t.Fatalf("refund calls before the retry: got %d, want 1 (a closed refund waits for operations)", n)
		}
		r, err := h.admin.RetryRefund(ctx, "admin:dave", first)
		if err != nil || r.Status != service.RefundStatePending || r.OutRefundNo != second || r.Attempt != 2 {
			t.Fatalf("retry: got %+v, %v; want attempt 2 %s pending", r, err, second)
		}
		// A double click: the same attempt, no third row.
		if r, err := h.admin.RetryRefund(ctx, "admin:dave", first); err != nil || r.OutRefundNo != second {
			t.Fatalf("repeated retry: got %+v, %v; want %s again", r, err, second)
		}
		h.run()
		h.wantStatus(otn, service.StatusRefunding) // the second attempt closed too
		if _, err := h.admin.RetryRefund(ctx, "admin:dave", first); service.ErrorCode(err) != "refund_superseded" {
			t.Fatalf("retry of the replaced first attempt: got %v, want refund_superseded", err)
		}
		if r, err := h.admin.RetryRefund(ctx, "admin:dave", second); err != nil || r.OutRefundNo != third {
			t.Fatalf("retry of the second attempt: got %+v, %v; want %s", r, err, third)
		}
		h.run()
		h.wantStatus(otn, service.StatusRefunded)
		for no, want := range map[string]int{first: 1, second: 1, third: 1} {
			if n := h.gw.createsOf(no); n != want {
				t.Fatalf("refund calls of %s: got %d, want %d", no, n, want)
			}
		}
		if n := h.refundCount(); n != 3 {
			t.Fatalf("refund rows: got %d, want 3 (one per attempt)", n)
		}
		if _, err := h.admin.RetryRefund(ctx, "admin:dave", third); service.ErrorCode(err) != "refund_succeeded" {
			t.Fatalf("retry of a successful refund: got %v, want refund_succeeded", err)
		}
		if _, err := h.admin.RetryRefund(ctx, "admin:dave", second); service.ErrorCode(err) != "refund_succeeded" {
			t.Fatalf("retry of a closed attempt already refunded by the next: got %v, want refund_succeeded", err)
		}
		audit, _ := h.store.FindAudit(ctx, first, 10)
		if len(audit) != 2 || audit[0].Action != "retry_refund" || !strings.Contains(audit[0].Before, `"closed"`) {
			t.Fatalf("audit: got %+v, want two retry_refund from closed", audit)
		}
		if v, err := h.refunds.View(ctx, otn); err != nil || v.OutRefundNo != third || v.Status != service.RefundStateSuccess {
			t.Fatalf("view: got %+v, %v; want the successful third attempt", v, err)
		}
	})
}

// A signed WeChat answer that names another trade or amount, at create, at
// query or in a notification (or one from another merchant), moves nothing:
// the refund stays unconfirmed, operations get one counted alert, and only
// a matching answer marks the batch refunded.
func TestSignedRefundAnswersThatDoNotMatchOursNeverMarkSuccess(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = rejectAll
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(10), uid, 11, 150000)
		no := service.OutRefundNo(otn)
		lie := func(n int, r service.RefundRequest) (service.RefundResult, error) {
			res := service.RefundResult{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, Status: service.RefundSuccess, RefundFen: r.RefundFen, TotalFen: r.TotalFen}
			switch n {
			case 1:
				res.RefundFen = 1 // another amount
			case 2:
				res.OutTradeNo = "SP26030200009999_01" // another trade
			default:
				res.Status = service.RefundProcessing
			}
			return res, nil
		}
		h.gw.answer = lie
		h.run()
		h.wantStatus(otn, service.StatusRefunding)
		h.clock.Advance(service.RefundPollProcessing)
		h.run()
		h.wantStatus(otn, service.StatusRefunding)
		if r, err := h.store.FindRefund(ctx, no); err != nil || r.Status != service.RefundStatePending {
			t.Fatalf("refund after two wrong answers: got %+v, %v; want pending", r, err)
		}
		as := h.alerts(service.AlertRefundMismatch)
		if len(as) != 1 || as[0].Count != 2 || as[0].Ref != no || !strings.Contains(as[0].Detail, "out_trade_no") {
			t.Fatalf("refund_mismatch alerts: got %+v, want one counted twice, the last naming out_trade_no", as)
		}
		// The third answer matches (PROCESSING); the query then lies.
		h.clock.Advance(service.RefundPollProcessing)
		h.run()
		if r, _ := h.store.FindRefund(ctx, no); r.Status != service.RefundStateProcessing {
			t.Fatalf("refund after a matching answer: got %s, want processing", r.Status)
		}
		h.gw.mu.Lock()
		h.gw.state[no] = service.RefundResult{OutRefundNo: no, OutTradeNo: otn, Status: service.RefundSuccess, RefundFen: 150000, TotalFen: 999999}
		h.gw.mu.Unlock()
		h.clock.Advance(service.RefundPollProcessing)
		h.run()
		h.wantStatus(otn, service.StatusRefunding)
		if as := h.alerts(service.AlertRefundMismatch); len(as) != 1 || as[0].Count != 3 {
			t.Fatalf("refund_mismatch after a wrong query: got %+v, want count 3", as)
		}

		// Notifications: another merchant, another amount: refused.
		good := service.RefundResult{MchID: testMchID, OutRefundNo: no, OutTradeNo: otn, Status: service.RefundSuccess, RefundFen: 150000, TotalFen: 150000}
		other := good
		other.MchID = "1900000999"
		short := good
		short.RefundFen = 149999
		for i, rr := range []service.RefundResult{other, short} {
			if err := h.refunds.HandleRefundEvent(ctx, service.RefundEvent{EventID: fmt.Sprintf("EV-BAD-%d", i), EventType: "REFUND.SUCCESS", Refund: rr}); err != nil {
				t.Fatalf("bad notification %d: %v", i, err)
			}
		}
		h.wantStatus(otn, service.StatusRefunding)
		if as := h.alerts(service.AlertNotifyMismatch); len(as) != 1 || as[0].Count != 2 || !strings.Contains(as[0].Detail, "refund 149999") {
			t.Fatalf("notify_mismatch alerts: got %+v, want one counted twice", as)
		}
		if err := h.refunds.HandleRefundEvent(ctx, service.RefundEvent{EventID: "EV-GOOD", EventType: "REFUND.SUCCESS", Refund: good}); err != nil {
			t.Fatalf("good notification: %v", err)
		}
		h.wantStatus(otn, service.StatusRefunded)
	})
}
