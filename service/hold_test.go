package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

// amountHold holds payments over 1,000 yuan and releases them at expiry.
func amountHold() service.HoldRules {
	r := noHolds()
	r.AmountFen, r.Amount = 100000, service.HoldRule{Enabled: true, Action: service.HoldRelease}
	return r
}

func TestHeldPaymentReleasedByOperationsIsPostedAndAudited(t *testing.T) {
	each(t, amountHold(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(20), uid, 11, 150000)
		h.run()
		h.wantStatus(otn, service.StatusHeld)
		if posts, _ := h.platform.counts(otn); posts != 0 {
			t.Fatalf("posts while held: got %d, want 0", posts)
		}
		hs, err := h.admin.Holds(ctx, "admin:alice", service.HoldOpen)
		if err != nil || len(hs) != 1 || hs[0].Rules[0] != service.RuleAmount {
			t.Fatalf("open holds: got %+v, %v; want one amount hold", hs, err)
		}
		h.clock.Advance(2 * time.Hour)
		if _, err := h.admin.ReleaseHold(ctx, "admin:alice", otn); err != nil {
			t.Fatalf("release: %v", err)
		}
		h.run()
		h.wantStatus(otn, service.StatusPosted)
		if _, err := h.admin.ReleaseHold(ctx, "admin:alice", otn); service.ErrorCode(err) != "hold_not_open" {
			t.Fatalf("second release: got %v, want hold_not_open", err)
		}
		audit, err := h.store.FindAudit(ctx, otn, 10)
		if err != nil || len(audit) != 1 {
			t.Fatalf("audit: got %d rows, %v; want 1", len(audit), err)
		}
		a := audit[0]
		if a.Actor != "admin:alice" || a.Action != "release_hold" || !strings.Contains(a.Before, `"held"`) || !strings.Contains(a.After, `"posting"`) {
			t.Fatalf("audit row: got %+v, want alice release_hold from held to posting", a)
		}
		if all, _ := h.store.FindAudit(ctx, "", 10); len(all) != 2 { // list_holds + release_hold
			t.Fatalf("audit rows: got %d, want 2", len(all))
		}
	})
}

func TestHeldPaymentRejectedByOperationsIsRefunded(t *testing.T) {
	each(t, amountHold(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(21), uid, 11, 150000)
		h.run()
		h.wantStatus(otn, service.StatusHeld)
		if _, err := h.admin.RejectHold(ctx, "admin:bob", otn, "疑似盗刷"); err != nil {
			t.Fatalf("reject: %v", err)
		}
		h.wantStatus(otn, service.StatusRefunding)
		h.run()
		h.wantStatus(otn, service.StatusRefunded)
		if posts, _ := h.platform.counts(otn); posts != 0 {
			t.Fatalf("posts of a rejected hold: got %d, want 0", posts)
		}
		rv, _ := h.refunds.View(ctx, otn)
		if rv == nil || rv.Reason != service.RefundHoldRejected {
			t.Fatalf("refund: got %+v, want hold_rejected", rv)
		}
		hd, _ := h.holds.Find(ctx, otn)
		if hd.Status != service.HoldRejected || hd.DecidedBy != "admin:bob" {
			t.Fatalf("hold: got %+v, want rejected by admin:bob", hd)
		}
	})
}

func TestUnreviewedHoldIsReleasedAutomaticallyAfter24Hours(t *testing.T) {
	each(t, amountHold(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(22), uid, 11, 150000)
		h.run()
		h.clock.Advance(23*time.Hour + 59*time.Minute)
		if n, err := h.holds.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("sweep at 23h59m: got %d, %v; want 0", n, err)
		}
		h.run()
		h.wantStatus(otn, service.StatusHeld)
		h.clock.Advance(time.Minute)
		if n, err := h.holds.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("sweep at 24h: got %d, %v; want 1", n, err)
		}
		h.run()
		h.wantStatus(otn, service.StatusPosted)
		hd, _ := h.holds.Find(ctx, otn)
		if hd.Status != service.HoldReleased || hd.DecidedBy != "system" {
			t.Fatalf("hold: got %+v, want released by system", hd)
		}
	})
}

func TestUnreviewedThirdPartyHoldIsRefundedAfter24Hours(t *testing.T) {
	r := noHolds()
	r.ThirdParty = service.HoldRule{Enabled: true, Action: service.HoldRefund}
	each(t, r, func(t *testing.T, h *harness) {
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(23), uid, 99, 150000) // pays for person 99, no binding
		h.family.bound[[2]int64{uid, 98}] = true
		bound := h.paid(orderNo(24), uid, 98, 150000) // pays for a consenting family member
		h.run()
		h.wantStatus(otn, service.StatusHeld)
		h.wantStatus(bound, service.StatusPosted)
		h.clock.Advance(24 * time.Hour) // the posting job itself notices the expiry
		h.run()
		h.wantStatus(otn, service.StatusRefunded)
		rv, _ := h.refunds.View(context.Background(), otn)
		if rv == nil || rv.Reason != service.RefundHoldExpired {
			t.Fatalf("refund: got %+v, want hold_expired", rv)
		}
	})
}

func TestReleasedHoldStillGetsTheFullSeventyTwoHourWindow(t *testing.T) {
	each(t, amountHold(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = func(int, service.Posting) (service.PostingResult, error) {
			return service.PostingResult{}, errPlatformDown
		}
		h.platform.query = func(string) (service.PostingResult, error) { return service.PostingResult{}, errPlatformDown }
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(25), uid, 11, 150000)
		paidAt := h.clock.Now()
		h.run()
		h.wantStatus(otn, service.StatusHeld)
		h.clock.Advance(24 * time.Hour)
		if _, err := h.holds.Sweep(ctx); err != nil {
			t.Fatalf("sweep: %v", err)
		}
		for h.clock.Now().Before(paidAt.Add(95 * time.Hour)) {
			h.run()
			h.clock.Advance(time.Hour)
		}
		h.clock.Set(paidAt.Add(95*time.Hour + 59*time.Minute))
		h.run()
		h.wantStatus(otn, service.StatusPosting)
		if n := h.refundCount(); n != 0 {
			t.Fatalf("refunds before 72h + 24h held: got %d, want 0", n)
		}
		h.clock.Set(paidAt.Add(96 * time.Hour))
		h.run()
		h.wantStatus(otn, service.StatusRefunded)
	})
}

func TestVelocityRuleHoldsTheBatchOverTheDailyLimit(t *testing.T) {
	r := noHolds()
	r.VelocityPerDay, r.Velocity = 2, service.HoldRule{Enabled: true, Action: service.HoldRelease}
	each(t, r, func(t *testing.T, h *harness) {
		uid := h.user("o1", 11)
		var otns []string
		for i := 0; i < 3; i++ {
			otns = append(otns, h.paid(orderNo(30+i), uid, 11, 1000))
			h.run()
		}
		h.wantStatus(otns[0], service.StatusPosted)
		h.wantStatus(otns[1], service.StatusPosted)
		h.wantStatus(otns[2], service.StatusHeld)
		if _, err := h.holds.Release(context.Background(), otns[0], "x"); service.ErrorKind(err) != service.KindNotFound {
			t.Fatalf("release of a batch never held: got %v, want not found", err)
		}
	})
}

func TestHoldReleaseAndExpiryRefundRaceLeavesOneDecision(t *testing.T) {
	r := noHolds()
	r.ThirdParty = service.HoldRule{Enabled: true, Action: service.HoldRefund}
	each(t, r, func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(26), uid, 99, 150000)
		h.run()
		h.wantStatus(otn, service.StatusHeld)
		// A release has moved the batch to posting but not yet closed the
		// hold record when the sweeper applies the expired hold's refund.
		if _, err := h.orders.UpdateBatch(ctx, otn, func(o *service.Order, b *service.Batch, fx *service.Effects) error {
			b.Status = service.StatusPosting
			return nil
		}); err != nil {
			t.Fatalf("release transition: %v", err)
		}
		h.clock.Advance(24 * time.Hour)
		if n, err := h.holds.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("sweep: got %d, %v; want 1 (closing the record)", n, err)
		}
		if hd, _ := h.holds.Find(ctx, otn); hd.Status != service.HoldReleased {
			t.Fatalf("hold after sweep: got %s, want released (repaired from the batch)", hd.Status)
		}
		h.run()
		h.wantStatus(otn, service.StatusPosted)
		if n := h.refundCount(); n != 0 {
			t.Fatalf("refunds: got %d, want 0", n)
		}
	})
}
