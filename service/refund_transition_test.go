package service_test

import (
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

// Every refund move follows the state machine: what WeChat reports moves a
// pending, processing or abnormal refund; success and closed never move, a
// repeat is refused, and a refused move leaves the refund as it was.
func TestRefundTransitionsFollowTheStateMachine(t *testing.T) {
	now := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	paidBack := now.Add(-time.Minute)
	cases := []struct {
		name   string
		from   service.RefundState
		status service.RefundStatus
		want   service.RefundState // "" = refused
	}{
		{"PendingToProcessing", service.RefundStatePending, service.RefundProcessing, service.RefundStateProcessing},
		{"PendingToSuccess", service.RefundStatePending, service.RefundSuccess, service.RefundStateSuccess},
		{"ProcessingToAbnormal", service.RefundStateProcessing, service.RefundAbnormal, service.RefundStateAbnormal},
		{"ProcessingToClosed", service.RefundStateProcessing, service.RefundClosed, service.RefundStateClosed},
		{"AbnormalToSuccess", service.RefundStateAbnormal, service.RefundSuccess, service.RefundStateSuccess},
		{"AbnormalToProcessing", service.RefundStateAbnormal, service.RefundProcessing, service.RefundStateProcessing},
		{"ProcessingRepeatRefused", service.RefundStateProcessing, service.RefundProcessing, ""},
		{"SuccessToClosedRefused", service.RefundStateSuccess, service.RefundClosed, ""},
		{"SuccessToProcessingRefused", service.RefundStateSuccess, service.RefundProcessing, ""},
		{"ClosedToSuccessRefused", service.RefundStateClosed, service.RefundSuccess, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &service.Refund{OutRefundNo: "R1", Status: c.from}
			err := r.Record(service.RefundResult{Status: c.status, RefundID: "WX-R1", SuccessTime: paidBack}, now)
			if c.want == "" {
				if got := service.ErrorCode(err); got != service.CodeInvalidTransition {
					t.Fatalf("code=%q (%v), want %q", got, err, service.CodeInvalidTransition)
				}
				if r.Status != c.from || r.RefundID != "" || !r.SuccessAt.IsZero() {
					t.Fatalf("refused move changed the refund: %+v", r)
				}
				return
			}
			if err != nil || r.Status != c.want || r.RefundID != "WX-R1" {
				t.Fatalf("got %s %q, %v; want %s WX-R1", r.Status, r.RefundID, err, c.want)
			}
			if c.want == service.RefundStateSuccess && !r.SuccessAt.Equal(paidBack) {
				t.Fatalf("success_at=%v, want WeChat's %v", r.SuccessAt, paidBack)
			}
		})
	}
}

// A success without WeChat's time takes the clock's; an unknown status
// moves nothing.
func TestRefundRecordSuccessTimeAndUnknownStatus(t *testing.T) {
	now := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	r := &service.Refund{OutRefundNo: "R1", Status: service.RefundStateProcessing}
	if err := r.Record(service.RefundResult{Status: service.RefundSuccess}, now); err != nil || !r.SuccessAt.Equal(now) {
		t.Fatalf("got %v at %v, want success at %v", err, r.SuccessAt, now)
	}
	r = &service.Refund{OutRefundNo: "R2", Status: service.RefundStatePending}
	if err := r.Record(service.RefundResult{Status: "REFUNDING?"}, now); err == nil || r.Status != service.RefundStatePending {
		t.Fatalf("got %v, status %s; want an error and pending", err, r.Status)
	}
}

// A failed call is counted and kept; the state does not move.
func TestRefundRecordFailedCallKeepsTheState(t *testing.T) {
	r := &service.Refund{Status: service.RefundStatePending, Attempts: 2}
	r.RecordFailedCall("SYSTEM_ERROR")
	if r.Status != service.RefundStatePending || r.Attempts != 3 || r.LastError != "SYSTEM_ERROR" {
		t.Fatalf("got %+v, want pending, 3 attempts, SYSTEM_ERROR", r)
	}
}
