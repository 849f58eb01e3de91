package service_test

import (
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

// Every transition method refuses what the state machine forbids and leaves
// the batch as it was; the allowed ones move it.
func TestBatchTransitionsFollowTheStateMachine(t *testing.T) {
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		from service.OrderStatus
		move func(b *service.Batch) error
		want service.OrderStatus // "" = refused with code
		code string
	}{
		{"MarkPaidPending", service.StatusPendingPayment, func(b *service.Batch) error { return b.MarkPaid("T1", at) }, service.StatusPaid, ""},
		{"MarkPaidClosedRefused", service.StatusClosed, func(b *service.Batch) error { return b.MarkPaid("T1", at) }, "", service.CodeInvalidTransition},
		{"ClosePaidRefused", service.StatusPaid, (*service.Batch).Close, "", service.CodeInvalidTransition},
		{"HoldPaid", service.StatusPaid, (*service.Batch).Hold, service.StatusHeld, ""},
		{"HoldPostingRefused", service.StatusPosting, (*service.Batch).Hold, "", service.CodeInvalidTransition},
		{"StartPostingHeldRefused", service.StatusHeld, (*service.Batch).StartPosting, "", service.CodeInvalidTransition},
		{"ReleaseHeld", service.StatusHeld, (*service.Batch).Release, service.StatusPosting, ""},
		{"ReleasePaidRefused", service.StatusPaid, (*service.Batch).Release, "", service.CodeInvalidTransition},
		{"AwaitConfirmationPosting", service.StatusPosting, (*service.Batch).AwaitConfirmation, service.StatusConfirming, ""},
		{"PostConfirming", service.StatusConfirming, (*service.Batch).Post, service.StatusPosted, ""},
		{"PostRefundingRefused", service.StatusRefunding, (*service.Batch).Post, "", service.CodeInvalidTransition},
		{"BeginRefundPosting", service.StatusPosting, func(b *service.Batch) error { return b.BeginRefund() }, service.StatusRefunding, ""},
		{"BeginRefundFromHeldOnPostingRefused", service.StatusPosting, func(b *service.Batch) error { return b.BeginRefund(service.StatusHeld) }, "", "not_refundable"},
		{"BeginRefundPostedRefused", service.StatusPosted, func(b *service.Batch) error { return b.BeginRefund() }, "", "not_refundable"},
		{"MarkRefundedRefunding", service.StatusRefunding, (*service.Batch).MarkRefunded, service.StatusRefunded, ""},
		{"MarkRefundedPostingRefused", service.StatusPosting, (*service.Batch).MarkRefunded, "", service.CodeInvalidTransition},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &service.Batch{Status: c.from}
			err := c.move(b)
			if c.want == "" {
				if got := service.ErrorCode(err); got != c.code {
					t.Fatalf("code=%q (%v), want %q", got, err, c.code)
				}
				if b.Status != c.from || b.TransactionID != "" {
					t.Fatalf("refused move changed the batch: %+v", b)
				}
				return
			}
			if err != nil || b.Status != c.want {
				t.Fatalf("got %s, %v; want %s", b.Status, err, c.want)
			}
		})
	}
}

// The first payment's one conditional write moves the batch along an
// allowed transition, the same as Batch.MarkPaid on the slow path.
func TestPaidBatchWriteIsTheMarkPaidTransition(t *testing.T) {
	var p service.PaidBatch
	if p.From() != service.StatusPendingPayment || p.To() != service.StatusPaid || !service.CanTransition(p.From(), p.To()) {
		t.Fatalf("PaidBatch moves %s -> %s", p.From(), p.To())
	}
}

// An order's status is derived from its batches by Settle, which refuses a
// change the state machine forbids.
func TestOrderSettleRefusesAssignedInvalidStatus(t *testing.T) {
	o := &service.Order{Batches: []service.Batch{{OutTradeNo: "A_01", Status: service.StatusPosted}, {OutTradeNo: "A_02", Status: service.StatusPendingPayment}}}
	b := o.Batch("A_02")
	b.Status = service.StatusPosted
	if got := service.ErrorCode(o.Settle(b, service.StatusPendingPayment)); got != service.CodeInvalidTransition {
		t.Fatalf("code=%q, want %q", got, service.CodeInvalidTransition)
	}
	b.Status = service.StatusPaid
	if err := o.Settle(b, service.StatusPendingPayment); err != nil || o.Status != service.StatusPaid {
		t.Fatalf("settle: %v, status %s; want nil, paid (paid before posting in DeriveOrderStatus)", err, o.Status)
	}
}
