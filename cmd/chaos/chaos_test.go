package main

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/paysim"
	"github.com/shebao/sipay/sim/provsim"
)

var testNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// cleanSnapshot is a consistent world: T1 posted, T2 refunded after a
// rejection, T3 still posting inside its window, T4 never paid.
func cleanSnapshot(tb testing.TB) snapshot {
	tb.Helper()
	paid := testNow.Add(-time.Hour)
	return snapshot{
		Now: testNow,
		Batches: []dbBatch{
			{OutTradeNo: "T1", Status: "posted", AmountFen: 100, PaidAt: paid},
			{OutTradeNo: "T2", Status: "refunded", AmountFen: 200, PaidAt: paid},
			{OutTradeNo: "T3", Status: "posting", AmountFen: 300, PaidAt: paid},
			{OutTradeNo: "T4", Status: "pending_payment", AmountFen: 400},
		},
		Ledger: paysim.Ledger{
			Trades: []paysim.TradeRecord{
				{OutTradeNo: "T1", State: "SUCCESS", TotalFen: 100},
				{OutTradeNo: "T2", State: "REFUND", TotalFen: 200, SuccessfulRefunds: 1, RefundedFen: 200},
				{OutTradeNo: "T3", State: "SUCCESS", TotalFen: 300},
				{OutTradeNo: "T4", State: "NOTPAY", TotalFen: 400},
			},
			Refunds: []paysim.RefundRecord{{OutRefundNo: "RFT2", OutTradeNo: "T2", Status: "SUCCESS", RefundFen: 200}},
		},
		Bookings: []provsim.Booking{
			{IdempotencyKey: "T1", AmountFen: 100, Result: service.PostingResult{Status: service.PostingAccepted}},
			{IdempotencyKey: "T2", AmountFen: 200, Result: service.PostingResult{Status: service.PostingRejected}},
		},
	}
}

func TestCheck_ConsistentWorldPasses(t *testing.T) {
	v := check(cleanSnapshot(t))
	if len(v.Violations) != 0 || !v.Settled {
		t.Fatalf("got violations %v settled=%v, want none and settled", v.Violations, v.Settled)
	}
	if v.PaidFen != 600 || v.LedgerPaidFen != 600 || v.RefundedFen != 200 || v.LedgerRefundFen != 200 || v.PendingInWindow != 1 {
		t.Fatalf("got %s, want paid 600/600, refunded 200/200, 1 pending", v)
	}
}

func TestCheck_CatchesEveryBrokenInvariant(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *snapshot)
		want   string
	}{
		{"LostPayment", func(s *snapshot) { s.Batches[0].Status = "pending_payment" }, "WeChat trade T1 is SUCCESS"},
		{"PaidWithoutWeChat", func(s *snapshot) { s.Batches[3].Status = "paid"; s.Batches[3].PaidAt = testNow }, "WeChat has no successful trade"},
		{"AmountDiffers", func(s *snapshot) { s.Ledger.Trades[2].TotalFen = 301 }, "WeChat took 301"},
		{"RefundedTwice", func(s *snapshot) {
			s.Ledger.Refunds = append(s.Ledger.Refunds, paysim.RefundRecord{OutRefundNo: "RFT2b", OutTradeNo: "T2", Status: "SUCCESS", RefundFen: 200})
		}, "2 successful refunds"},
		{"RefundBeyondTotal", func(s *snapshot) { s.Ledger.Trades[1].RefundedFen = 201 }, "refunded 201 fen of 200"},
		{"PostedTwice", func(s *snapshot) {
			s.Bookings = append(s.Bookings, provsim.Booking{IdempotencyKey: "T1", AmountFen: 100, Result: service.PostingResult{Status: service.PostingAccepted}})
		}, "2 bookings for idempotency key T1"},
		{"PostedAndRefunded", func(s *snapshot) { s.Bookings[1].Result.Status = service.PostingAccepted }, "money moved twice"},
		{"PostedWithoutBooking", func(s *snapshot) { s.Bookings = s.Bookings[1:] }, "no accepted booking"},
		{"BookingOfUnknownBatch", func(s *snapshot) {
			s.Bookings = append(s.Bookings, provsim.Booking{IdempotencyKey: "X9", AmountFen: 1, Result: service.PostingResult{Status: service.PostingAccepted}})
		}, "matches no batch"},
		{"PendingPastWindow", func(s *snapshot) { s.Batches[2].PaidAt = testNow.Add(-73 * time.Hour) }, "after its 72-hour window"},
		{"RefundedWithoutWeChatRefund", func(s *snapshot) { s.Ledger.Refunds = nil; s.Ledger.Trades[1].SuccessfulRefunds = 0 }, "0 successful refunds"},
		{"WeChatRefundedPostedBatch", func(s *snapshot) {
			s.Ledger.Refunds = append(s.Ledger.Refunds, paysim.RefundRecord{OutRefundNo: "RFT1", OutTradeNo: "T1", Status: "SUCCESS", RefundFen: 100})
		}, "WeChat refunded trade T1 but our batch is posted"},
		{"TradeUnknownToUs", func(s *snapshot) {
			s.Ledger.Trades = append(s.Ledger.Trades, paysim.TradeRecord{OutTradeNo: "T9", State: "SUCCESS", TotalFen: 5})
		}, "no batch of ours has it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := cleanSnapshot(t)
			c.mutate(&s)
			v := check(s)
			if !strings.Contains(strings.Join(v.Violations, "\n"), c.want) {
				t.Fatalf("got violations %q, want one containing %q", v.Violations, c.want)
			}
		})
	}
}

func TestCheck_RefundingBatchIsUnsettledNotViolation(t *testing.T) {
	s := cleanSnapshot(t)
	s.Batches[1].Status = "refunding" // WeChat already refunded; our notify not processed yet
	v := check(s)
	if v.Settled {
		t.Fatalf("got settled, want unsettled while a batch is refunding")
	}
	for _, m := range v.Violations {
		if strings.Contains(m, "refunded twice") || strings.Contains(m, "money moved twice") {
			t.Fatalf("got %q, want no double-processing violation for an in-flight refund", m)
		}
	}
}

func TestResidentID_ValidAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for n := int64(1); n <= 500; n++ {
		id := residentID(42, n)
		if _, err := service.ValidateID(service.IDResident, id, testNow); err != nil {
			t.Fatalf("residentID(42, %d) = %s: got %v, want a valid resident ID", n, id, err)
		}
		if seen[id] {
			t.Fatalf("residentID(42, %d) = %s repeats, want distinct IDs", n, id)
		}
		seen[id] = true
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		r    reply
		want string
	}{
		{reply{Status: 201}, "2xx"},
		{reply{Status: 503, Body: []byte(`{"error":{"code":"unavailable"}}`)}, "503 unavailable"},
		{reply{Status: 500, Body: []byte(`panic: boom`)}, "500 without envelope"},
		{reply{Status: 500, Body: []byte(`{"error":{"code":"internal"}}`), Replayed: true}, "500 internal (replayed)"},
		{reply{Err: fmt.Errorf("dial: %w", syscall.ECONNREFUSED)}, "refused"},
		{reply{Err: errors.New("read: connection reset by peer")}, "reset"},
		{reply{Err: errors.New("deadline"), Hang: true}, "hang"},
	}
	for _, c := range cases {
		if got := classify(c.r); got != c.want {
			t.Fatalf("classify(%+v) = %q, want %q", c.r, got, c.want)
		}
	}
}

func TestCheck_PaidBatchWaitingIsRecordedButNotSettled(t *testing.T) {
	s := cleanSnapshot(t)
	s.Batches[2].Status = "paid" // its posting job is leased by a killed worker
	v := check(s)
	if v.Settled || !v.Recorded || len(v.Violations) != 0 {
		t.Fatalf("got settled=%v recorded=%v violations=%v, want recorded, not settled, no violations", v.Settled, v.Recorded, v.Violations)
	}
}

func TestCheck_UnrecordedPaymentIsNotRecorded(t *testing.T) {
	s := cleanSnapshot(t)
	s.Batches[2].Status = "pending_payment" // the notification was lost and not yet re-sent
	if v := check(s); v.Recorded {
		t.Fatalf("got recorded, want not recorded while a WeChat SUCCESS is missing here")
	}
}

// TestPersistent: a violation is reported only when the confirming
// snapshot shows it again (a read race shows once; money moved twice
// shows every time).
func TestPersistent(t *testing.T) {
	first := []string{"batch A is posted but the platform has no accepted booking for it", "trade B refunded 2 times"}
	second := []string{"trade B refunded 2 times", "batch C is posted but the platform has no accepted booking for it"}
	got := persistent(first, second)
	if len(got) != 1 || got[0] != "trade B refunded 2 times" {
		t.Fatalf("persistent = %q, want only the violation both snapshots show", got)
	}
	if got := persistent(nil, second); len(got) != 0 {
		t.Fatalf("persistent(nil, …) = %q, want none", got)
	}
}
