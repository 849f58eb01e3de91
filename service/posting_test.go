package service_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

func TestPostingAcceptedOnThirdTryIsPostedWithThreeVouchers(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = func(n int, p service.Posting) (service.PostingResult, error) {
			if n < 3 {
				return service.PostingResult{}, errPlatformDown
			}
			if p.Person.IDNumber == "" || len(p.Lines) != 2 || p.AmountFen != 150000 {
				t.Errorf("posting: got person %q lines %d amount %d, want identity, 2 lines, 150000", p.Person.IDNumber, len(p.Lines), p.AmountFen)
			}
			return acceptedResult(p.IdempotencyKey, p.AmountFen), nil
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(1), uid, 11, 150000)

		h.run()
		h.wantStatus(otn, service.StatusPosting)
		h.clock.Advance(time.Minute) // first back-off step
		h.run()
		h.wantStatus(otn, service.StatusPosting)
		h.clock.Advance(5 * time.Minute) // second step
		h.run()
		h.wantStatus(otn, service.StatusPosted)

		if posts, booked := h.platform.counts(otn); posts != 3 || booked != 1 {
			t.Fatalf("platform: got %d posts %d bookings, want 3 posts 1 booking", posts, booked)
		}
		vs, err := h.vouchers.ListForUser(ctx, uid, orderNo(1))
		if err != nil {
			t.Fatalf("vouchers: %v", err)
		}
		if len(vs) != 3 {
			t.Fatalf("vouchers: got %d, want 3", len(vs))
		}
		kinds := map[service.VoucherKind]service.Voucher{}
		for _, v := range vs {
			kinds[v.Kind] = v
		}
		if f := kinds[service.VoucherFiscal]; f.Content == nil || f.Content.BillCode != "44010126" || f.Content.CheckCode != "a1b2c3" || !f.ExpiresAt.IsZero() {
			t.Fatalf("fiscal receipt: got %+v, want bill code, check code and no expiry", f)
		}
		if a := kinds[service.VoucherAcceptance]; !a.ExpiresAt.Equal(a.IssuedAt.AddDate(2, 0, 0)) || a.Content.Reference != "REF-"+otn {
			t.Fatalf("acceptance receipt: got expiry %v reference %q, want issued+2y and REF-%s", a.ExpiresAt, a.Content.Reference, otn)
		}
		if x := kinds[service.VoucherTransaction]; !x.ExpiresAt.Equal(x.IssuedAt.AddDate(0, 18, 0)) || x.Content.TransactionID != "4200"+orderNo(1) {
			t.Fatalf("transaction detail: got expiry %v txid %q, want issued+18m and the transaction id", x.ExpiresAt, x.Content.TransactionID)
		}
		ev := h.events(otn)
		if countType(ev, "posting_retry") != 1 || countType(ev, "posted") != 1 {
			t.Fatalf("timeline: got %v, want one posting_retry and one posted", ev)
		}
		// A repeat of the job and a late acceptance callback change nothing.
		if err := h.posting.HandlePlatformEvent(ctx, service.PlatformEvent{EventID: "ev1", Region: "gd-gz", URLRegion: "gd-gz", CredentialRegion: "gd-gz", Type: service.EventPostingAccepted,
			IdempotencyKey: otn, Result: acceptedResult(otn, 150000)}); err != nil {
			t.Fatalf("callback: %v", err)
		}
		if got := countType(h.events(otn), "posted"); got != 1 {
			t.Fatalf("posted events after callback: got %d, want 1", got)
		}
		if vs, _ := h.vouchers.ListForUser(ctx, uid, orderNo(1)); len(vs) != 3 {
			t.Fatalf("vouchers after callback: got %d, want 3", len(vs))
		}
	})
}

func TestPlatformDownForTheWholeWindowRefundsOnceAtSeventyTwoHours(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = func(int, service.Posting) (service.PostingResult, error) {
			return service.PostingResult{}, errPlatformDown
		}
		h.platform.query = func(string) (service.PostingResult, error) { return service.PostingResult{}, errPlatformDown }
		h.gw.answer = func(n int, r service.RefundRequest) (service.RefundResult, error) {
			return service.RefundResult{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, Status: service.RefundProcessing, RefundFen: r.RefundFen, TotalFen: r.TotalFen}, nil
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(2), uid, 11, 150000)
		paidAt := h.clock.Now()

		for h.clock.Now().Before(paidAt.Add(71 * time.Hour)) {
			h.run()
			h.clock.Advance(30 * time.Minute)
		}
		h.clock.Set(paidAt.Add(71*time.Hour + 59*time.Minute))
		h.run()
		h.wantStatus(otn, service.StatusPosting)
		if n := h.refundCount(); n != 0 {
			t.Fatalf("refunds at 71h59m: got %d, want 0", n)
		}
		if n := h.gw.createsOf(service.OutRefundNo(otn)); n != 0 {
			t.Fatalf("gateway refunds at 71h59m: got %d, want 0", n)
		}

		h.clock.Set(paidAt.Add(72 * time.Hour))
		h.run()
		h.wantStatus(otn, service.StatusRefunding)
		if n := h.gw.createsOf(service.OutRefundNo(otn)); n != 1 {
			t.Fatalf("gateway refunds at 72h: got %d, want 1", n)
		}
		rv, err := h.refunds.View(ctx, otn)
		if err != nil || rv == nil {
			t.Fatalf("refund view: %v %v", rv, err)
		}
		if rv.Reason != service.RefundRetryExpired || rv.Status != service.RefundStateProcessing || rv.ExpectedArrival == "" {
			t.Fatalf("refund view: got %+v, want retry_window_expired processing with an expected arrival", rv)
		}

		ev := service.RefundEvent{EventID: "EV-R1", EventType: "REFUND.SUCCESS", Refund: service.RefundResult{
			MchID: testMchID, OutRefundNo: service.OutRefundNo(otn), OutTradeNo: otn, Status: service.RefundSuccess, RefundFen: 150000, TotalFen: 150000,
			Channel: "BALANCE", SuccessTime: h.clock.Now()}, Plaintext: []byte(`{}`)}
		if err := h.refunds.HandleRefundEvent(ctx, ev); err != nil {
			t.Fatalf("refund event: %v", err)
		}
		h.wantStatus(otn, service.StatusRefunded)
		before := h.events(otn)
		for i := 0; i < 3; i++ {
			if err := h.refunds.HandleRefundEvent(ctx, ev); err != nil {
				t.Fatalf("duplicate refund event: %v", err)
			}
		}
		h.clock.Advance(time.Hour)
		h.run()
		after := h.events(otn)
		if len(after) != len(before) || countType(after, "refunded") != 1 {
			t.Fatalf("timeline after duplicates: got %v, want unchanged %v with one refunded", after, before)
		}
		if n := h.gw.createsOf(service.OutRefundNo(otn)); n != 1 {
			t.Fatalf("gateway refunds in the end: got %d, want 1", n)
		}
		if posts, booked := h.platform.counts(otn); booked != 0 || posts < 8 {
			t.Fatalf("platform: got %d posts %d bookings, want the back-off schedule (>= 8 posts) and no booking", posts, booked)
		}
		rv, _ = h.refunds.View(ctx, otn)
		if rv.Status != service.RefundStateSuccess || rv.Channel != "BALANCE" {
			t.Fatalf("refund view after success: got %+v, want success via BALANCE", rv)
		}
	})
}

func TestTwoInstancesConcurrentlyNeverPostOrRefundTwice(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		h.platform.delay = 2 * time.Millisecond
		h.gw.delay = 2 * time.Millisecond
		h.platform.answer = func(n int, p service.Posting) (service.PostingResult, error) {
			if p.OutTradeNo[len(p.OutTradeNo)-4] == '1' { // orders 1x are not insured
				return service.PostingResult{}, &service.PlatformRejection{Code: service.RejectNotInsured, Reason: "未参保"}
			}
			return acceptedResult(p.IdempotencyKey, p.AmountFen), nil
		}
		uid := h.user("o1", 11)
		var otns []string
		for i := 0; i < 6; i++ {
			otns = append(otns, h.paid(orderNo(i), uid, 11, service.Fen(10000+i)))
			otns = append(otns, h.paid(orderNo(10+i), uid, 11, service.Fen(20000+i)))
		}
		pb, rb, _ := h.instance("worker-b")
		workers := []interface {
			RunOnce(context.Context) (int, error)
		}{h.posting, pb, h.refunds, rb, h.posting, pb}
		var wg sync.WaitGroup
		errs := make(chan error, len(workers))
		for _, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 15; i++ {
					if _, err := w.RunOnce(context.Background()); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("worker: %v", err)
		}
		h.run() // finish anything left after the goroutines stopped
		for _, otn := range otns {
			posts, booked := h.platform.counts(otn)
			creates := h.gw.createsOf(service.OutRefundNo(otn))
			if otn[len(otn)-4] == '1' {
				h.wantStatus(otn, service.StatusRefunded)
				if posts != 1 || booked != 0 || creates != 1 {
					t.Fatalf("%s: got %d posts %d bookings %d refunds, want 1 post 0 bookings 1 refund", otn, posts, booked, creates)
				}
				continue
			}
			h.wantStatus(otn, service.StatusPosted)
			if posts != 1 || booked != 1 || creates != 0 {
				t.Fatalf("%s: got %d posts %d bookings %d refunds, want 1 post 1 booking 0 refunds", otn, posts, booked, creates)
			}
			if n := countType(h.events(otn), "posted"); n != 1 {
				t.Fatalf("%s: got %d posted events, want 1", otn, n)
			}
		}
	})
}

func TestKilledWorkerLosesNothingAfterItsLeaseExpires(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(3), uid, 11, 150000)

		// The dead worker claims the job, reaches the platform (which books
		// it) and dies before recording anything.
		jobs, err := h.outbox.Claim(ctx, service.JobPostBatch, "dead-worker", 2*time.Minute, 10)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: got %d jobs, %v; want 1", len(jobs), err)
		}
		if _, err := h.platform.PostPayment(ctx, service.Posting{IdempotencyKey: otn, OutTradeNo: otn}); err != nil {
			t.Fatalf("post: %v", err)
		}

		pb, _, _ := h.instance("worker-b")
		if n, err := pb.RunOnce(ctx); err != nil || n != 0 {
			t.Fatalf("run within the lease: got %d jobs, %v; want 0", n, err)
		}
		h.wantStatus(otn, service.StatusPaid)

		h.clock.Advance(2*time.Minute + time.Second)
		if n, err := pb.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("run after the lease: got %d jobs, %v; want 1", n, err)
		}
		h.wantStatus(otn, service.StatusPosted)
		if posts, booked := h.platform.counts(otn); posts != 2 || booked != 1 {
			t.Fatalf("platform: got %d posts %d bookings, want 2 posts (same key) 1 booking", posts, booked)
		}
		if err := h.outbox.Complete(ctx, jobs[0].ID, "dead-worker"); !errors.Is(err, service.ErrStale) {
			t.Fatalf("late complete by the dead worker: got %v, want ErrStale", err)
		}
		if n, _ := h.outbox.Pending(ctx, service.JobPostBatch); n != 0 {
			t.Fatalf("pending posting jobs: got %d, want 0", n)
		}
	})
}

func TestPermanentRejectionRefundsImmediately(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = func(int, service.Posting) (service.PostingResult, error) {
			return service.PostingResult{}, &service.PlatformRejection{Code: service.RejectNotInsured, Reason: "该人员未在本地参保"}
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(4), uid, 11, 150000)
		h.run()
		h.wantStatus(otn, service.StatusRefunded)
		if posts, _ := h.platform.counts(otn); posts != 1 {
			t.Fatalf("posts: got %d, want 1 (no retry of a permanent rejection)", posts)
		}
		rv, _ := h.refunds.View(ctx, otn)
		if rv == nil || rv.Reason != service.RefundPlatformRejected || rv.Status != service.RefundStateSuccess {
			t.Fatalf("refund: got %+v, want platform_rejected success", rv)
		}
		if n := countType(h.events(otn), "refunded"); n != 1 {
			t.Fatalf("refunded events: got %d, want 1", n)
		}
	})
}

func TestPendingPostingIsNotRefundedAndIsFlaggedAfterThreeWorkingDaysAcrossAWeekend(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		friday := time.Date(2026, 3, 6, 10, 0, 0, 0, service.Shanghai)
		h.clock.Set(friday)
		h.platform.answer = func(int, service.Posting) (service.PostingResult, error) {
			return service.PostingResult{Status: service.PostingPending, Reference: "SB2026-0001"}, nil
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(5), uid, 11, 150000)
		h.run()
		h.wantStatus(otn, service.StatusPosting)

		step := func(to time.Time, wantFlagged int) {
			t.Helper()
			h.clock.Set(to)
			h.run()
			n, err := h.posting.FlagDelays(ctx)
			if err != nil {
				t.Fatalf("flag delays: %v", err)
			}
			if n != wantFlagged {
				t.Fatalf("flagged at %v: got %d, want %d", to, n, wantFlagged)
			}
		}
		step(time.Date(2026, 3, 9, 10, 0, 0, 0, service.Shanghai), 0)  // Monday: 72h passed, 1 working day
		step(time.Date(2026, 3, 10, 10, 0, 0, 0, service.Shanghai), 0) // Tuesday: 2 working days
		step(time.Date(2026, 3, 11, 9, 59, 0, 0, service.Shanghai), 0) // Wednesday, a minute early
		h.wantStatus(otn, service.StatusPosting)
		if n := h.refundCount(); n != 0 {
			t.Fatalf("refunds of a pending posting: got %d, want 0", n)
		}
		step(time.Date(2026, 3, 11, 10, 0, 0, 0, service.Shanghai), 1) // 3 working days
		step(time.Date(2026, 3, 11, 11, 0, 0, 0, service.Shanghai), 0) // once only

		if n := countType(h.events(otn), "info_delay"); n != 1 {
			t.Fatalf("info_delay events: got %d, want 1", n)
		}
		o, _ := h.orders.FindOrder(ctx, orderNo(5))
		views, err := h.viewer.View(ctx, o)
		if err != nil || len(views) != 1 {
			t.Fatalf("view: %v %v", views, err)
		}
		if !views[0].Delayed || views[0].Reference != "SB2026-0001" {
			t.Fatalf("view: got %+v, want delayed with the platform reference", views[0])
		}
		if len(h.alerts(service.AlertPostingDelayed)) != 1 {
			t.Fatalf("delay alerts: want 1")
		}
		// The callback finally arrives: posted, vouchers, flag gone.
		if err := h.posting.HandlePlatformEvent(ctx, service.PlatformEvent{EventID: "cb-1", Region: "gd-gz", URLRegion: "gd-gz", CredentialRegion: "gd-gz", Type: service.EventPostingAccepted,
			IdempotencyKey: otn, Result: acceptedResult(otn, 150000)}); err != nil {
			t.Fatalf("callback: %v", err)
		}
		h.wantStatus(otn, service.StatusPosted)
		o, _ = h.orders.FindOrder(ctx, orderNo(5))
		views, _ = h.viewer.View(ctx, o)
		if views[0].Delayed {
			t.Fatalf("view after posting: still delayed")
		}
	})
}

func TestAddWorkingDaysSkipsWeekends(t *testing.T) {
	cases := []struct{ from, want time.Time }{
		{time.Date(2026, 3, 6, 10, 0, 0, 0, service.Shanghai), time.Date(2026, 3, 11, 10, 0, 0, 0, service.Shanghai)}, // Fri → Wed
		{time.Date(2026, 3, 7, 10, 0, 0, 0, service.Shanghai), time.Date(2026, 3, 11, 10, 0, 0, 0, service.Shanghai)}, // Sat → Wed
		{time.Date(2026, 3, 2, 10, 0, 0, 0, service.Shanghai), time.Date(2026, 3, 5, 10, 0, 0, 0, service.Shanghai)},  // Mon → Thu
	}
	for _, c := range cases {
		if got := service.AddWorkingDays(c.from, 3); !got.Equal(c.want) {
			t.Errorf("AddWorkingDays(%v, 3): got %v, want %v", c.from, got.In(service.Shanghai), c.want)
		}
	}
}
