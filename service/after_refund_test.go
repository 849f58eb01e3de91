package service_test

import (
	"context"
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
			return service.RefundResult{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, Status: service.RefundSuccess, Channel: "BALANCE", RefundFen: r.RefundFen}, nil
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
			return service.RefundResult{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, Status: service.RefundAbnormal, RefundFen: r.RefundFen}, nil
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(7), uid, 11, 150000)
		h.run()
		h.wantStatus(otn, service.StatusRefunding)
		ev := service.RefundEvent{EventID: "EV-AB", EventType: "REFUND.ABNORMAL", Refund: service.RefundResult{
			OutRefundNo: service.OutRefundNo(otn), OutTradeNo: otn, Status: service.RefundAbnormal, RefundFen: 150000}}
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
			return service.RefundResult{OutRefundNo: r.OutRefundNo, Status: service.RefundProcessing}, nil
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

func TestClosedRefundIsAlertedAndRetriedByOperationsWithTheSameOutRefundNo(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = rejectAll
		h.gw.answer = func(n int, r service.RefundRequest) (service.RefundResult, error) {
			status := service.RefundSuccess
			if n == 1 {
				status = service.RefundClosed
			}
			return service.RefundResult{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, Status: status, RefundFen: r.RefundFen}, nil
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(9), uid, 11, 150000)
		h.run()
		h.wantStatus(otn, service.StatusRefunding)
		if n := len(h.alerts(service.AlertRefundClosed)); n != 1 {
			t.Fatalf("refund_closed alerts: got %d, want 1", n)
		}
		h.clock.Advance(time.Hour)
		h.run()
		if n := h.gw.createsOf(service.OutRefundNo(otn)); n != 1 {
			t.Fatalf("refund calls before the retry: got %d, want 1 (a closed refund waits for operations)", n)
		}
		r, err := h.admin.RetryRefund(ctx, "admin:dave", service.OutRefundNo(otn))
		if err != nil || r.Status != service.RefundStatePending {
			t.Fatalf("retry: got %+v, %v; want pending", r, err)
		}
		h.run()
		h.wantStatus(otn, service.StatusRefunded)
		if n := h.gw.createsOf(service.OutRefundNo(otn)); n != 2 {
			t.Fatalf("refund calls: got %d, want 2 with the same out_refund_no", n)
		}
		if _, err := h.admin.RetryRefund(ctx, "admin:dave", service.OutRefundNo(otn)); service.ErrorCode(err) != "refund_succeeded" {
			t.Fatalf("retry of a successful refund: got %v, want refund_succeeded", err)
		}
		audit, _ := h.store.FindAudit(ctx, service.OutRefundNo(otn), 10)
		if len(audit) != 1 || audit[0].Action != "retry_refund" || !strings.Contains(audit[0].Before, `"closed"`) {
			t.Fatalf("audit: got %+v, want one retry_refund from closed", audit)
		}
	})
}
