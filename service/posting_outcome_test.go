package service_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

// runUntil works the jobs every step until the clock reaches to.
func (h *harness) runUntil(to time.Time, step time.Duration) {
	h.t.Helper()
	for h.clock.Now().Before(to) {
		h.run()
		h.clock.Advance(step)
	}
	h.clock.Set(to)
	h.run()
}

// Defect 1: the platform books the first attempt and the answer is lost;
// then it goes dark. At 72 h the old code queried once, failed, and
// refunded: the payer got the money back and the fund kept it too.
func TestBookedThenDarkAtTheDeadlineIsConfirmingNotRefunded(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		dark := true
		booked := map[string]service.PostingResult{} // what the platform booked, unknown to us
		h.platform.answer = func(n int, p service.Posting) (service.PostingResult, error) {
			if n == 1 {
				booked[p.IdempotencyKey] = acceptedResult(p.IdempotencyKey, p.AmountFen) // booked, reply lost
			}
			return service.PostingResult{}, errPlatformDown // and dark ever since
		}
		h.platform.query = func(string) (service.PostingResult, error) { return service.PostingResult{}, errPlatformDown }
		h.platform.void = func(key string) (service.PostingResult, error) {
			if dark {
				return service.PostingResult{}, errPlatformDown
			}
			return booked[key], nil
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(21), uid, 11, 150000)
		paidAt := h.clock.Now()
		h.runUntil(paidAt.Add(72*time.Hour), 30*time.Minute)
		h.wantStatus(otn, service.StatusConfirming)
		if n := h.refundCount(); n != 0 {
			t.Fatalf("refunds while the outcome is unknown: got %d, want 0", n)
		}
		// Keep asking, at most 5 minutes apart, with one alert only.
		v0 := h.platform.voidsOf(otn)
		for i := 0; i < 24; i++ { // two hours
			h.clock.Advance(service.ConfirmInterval)
			h.run()
		}
		if got := h.platform.voidsOf(otn) - v0; got < 24 {
			t.Fatalf("voids asked in 2 h: got %d, want at least 24 (every 5 min)", got)
		}
		if as := h.alerts(service.AlertPostingOutcomeUnknown); len(as) != 1 || as[0].Count != 1 {
			t.Fatalf("posting_outcome_unknown alerts: got %+v, want one raised once", as)
		}
		if posts, _ := h.platform.counts(otn); posts == 0 {
			t.Fatal("no post at all")
		}
		postsAtDeadline, _ := h.platform.counts(otn)
		o, _ := h.orders.FindOrder(ctx, orderNo(21))
		if o.Status != service.StatusConfirming {
			t.Fatalf("order status: got %s, want confirming", o.Status)
		}
		views, err := h.viewer.View(ctx, o)
		if err != nil || views[0].OutcomeNote == "" {
			t.Fatalf("view: %+v %v, want an outcome note (待确认)", views, err)
		}
		// The platform comes back: the void answers the booked posting.
		dark = false
		h.clock.Advance(service.ConfirmInterval)
		h.run()
		h.wantStatus(otn, service.StatusPosted)
		if n := h.refundCount(); n != 0 {
			t.Fatalf("refunds of a booked posting: got %d, want 0", n)
		}
		if posts, _ := h.platform.counts(otn); posts != postsAtDeadline {
			t.Fatalf("posts after the deadline: got %d more, want none", posts-postsAtDeadline)
		}
	})
}

// Defect 1: the void confirmed refunds at once; a later acceptance of the
// voided key is never booked.
func TestVoidConfirmedAtTheDeadlineRefunds(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		h.platform.answer = func(int, service.Posting) (service.PostingResult, error) {
			return service.PostingResult{}, errPlatformDown
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(22), uid, 11, 150000)
		h.runUntil(h.clock.Now().Add(72*time.Hour), time.Hour)
		h.wantStatus(otn, service.StatusRefunded)
		if n := h.gw.createsOf(service.OutRefundNo(otn)); n != 1 {
			t.Fatalf("refund calls: got %d, want 1", n)
		}
		if n := h.platform.voidsOf(otn); n != 1 {
			t.Fatalf("voids: got %d, want 1", n)
		}
	})
}

// Defect 1: operations resolve a confirming batch with an audited action.
func TestOperationsResolveAConfirmingBatch(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = func(int, service.Posting) (service.PostingResult, error) {
			return service.PostingResult{}, errPlatformDown
		}
		h.platform.void = func(string) (service.PostingResult, error) { return service.PostingResult{}, errPlatformDown }
		uid := h.user("o1", 11)
		a := h.paid(orderNo(23), uid, 11, 150000)
		b := h.paid(orderNo(24), uid, 11, 150000)
		h.runUntil(h.clock.Now().Add(72*time.Hour), time.Hour)
		h.wantStatus(a, service.StatusConfirming)
		h.wantStatus(b, service.StatusConfirming)

		if _, err := h.admin.ResolvePosting(ctx, "ops1", a, "refund", "", ""); service.AsError(err) == nil {
			t.Fatalf("resolve without a note: got %v, want a validation error", err)
		}
		if _, err := h.admin.ResolvePosting(ctx, "ops1", a, "refund", "", "12333 王科长 确认未入账"); err != nil {
			t.Fatalf("resolve refund: %v", err)
		}
		h.run()
		h.wantStatus(a, service.StatusRefunded)
		// The console resolves through the same audited admin action.
		ops := service.NewOpsService(service.OpsDeps{Admin: h.admin, Store: h.store, Persons: noPersons{}, Holds: h.holds, Clock: h.clock})
		if !ops.CanResolveUnknown() {
			t.Fatalf("the console cannot resolve unknown outcomes")
		}
		if err := ops.ResolveUnknown(ctx, "ops1", b, "posted", "SB-OOB-1", "平台回函确认已入账"); err != nil {
			t.Fatalf("resolve posted (console): %v", err)
		}
		h.wantStatus(b, service.StatusPosted)
		if _, err := h.admin.ResolvePosting(ctx, "ops1", b, "refund", "", "again"); service.AsError(err) == nil || service.AsError(err).Kind != service.KindConflict {
			t.Fatalf("resolving a posted batch: got %v, want a conflict", err)
		}
		for _, otn := range []string{a, b} {
			au, err := h.store.FindAudit(ctx, otn, 10)
			if err != nil || len(au) != 1 || au[0].Actor != "ops1" {
				t.Fatalf("audit of %s: %+v %v, want one entry by ops1", otn, au, err)
			}
		}
	})
}

// Defect 2: 400/401/403/409 are configuration faults, never rejections:
// the money is kept, one alert is raised, and the call is retried; at the
// deadline a void answered with the same fault leaves the batch confirming.
func TestConfigurationFaultsNeverRefund(t *testing.T) {
	for _, c := range []struct {
		status int
		code   string
	}{{400, "invalid_request"}, {401, "bad_signature"}, {403, "region_not_allowed"}, {409, "idempotency_conflict"}} {
		t.Run(c.code, func(t *testing.T) {
			each(t, noHolds(), func(t *testing.T, h *harness) {
				fault := &service.PlatformConfigError{Status: c.status, Code: c.code, Reason: "配置错误"}
				h.platform.answer = func(int, service.Posting) (service.PostingResult, error) { return service.PostingResult{}, fault }
				h.platform.void = func(string) (service.PostingResult, error) { return service.PostingResult{}, fault }
				uid := h.user("o1", 11)
				otn := h.paid(orderNo(25), uid, 11, 150000)
				h.runUntil(h.clock.Now().Add(71*time.Hour), 30*time.Minute)
				h.wantStatus(otn, service.StatusPosting)
				h.runUntil(h.clock.Now().Add(2*time.Hour), 5*time.Minute)
				h.wantStatus(otn, service.StatusConfirming)
				if n := h.refundCount(); n != 0 {
					t.Fatalf("refunds on %d %s: got %d, want 0", c.status, c.code, n)
				}
				if as := h.alerts(service.AlertPlatformConfigFault); len(as) != 1 || as[0].Count != 1 {
					t.Fatalf("config fault alerts: got %+v, want one raised once", as)
				}
			})
		})
	}
}

// Defect 2: a posting answered pending is refunded only on a definite
// rejection; a configuration fault while polling keeps it.
func TestPendingPostingWithConfigFaultWhilePollingIsKept(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		h.platform.answer = func(int, service.Posting) (service.PostingResult, error) {
			return service.PostingResult{Status: service.PostingPending, Reference: "SB-P"}, nil
		}
		h.platform.query = func(string) (service.PostingResult, error) {
			return service.PostingResult{}, &service.PlatformConfigError{Status: 403, Code: "region_not_allowed"}
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(26), uid, 11, 150000)
		h.runUntil(h.clock.Now().Add(100*time.Hour), time.Hour)
		h.wantStatus(otn, service.StatusPosting)
		if n := h.refundCount(); n != 0 {
			t.Fatalf("refunds: got %d, want 0", n)
		}
		h.platform.query = func(string) (service.PostingResult, error) {
			return service.PostingResult{Status: service.PostingRejected, Reason: "未参保"}, nil
		}
		h.clock.Advance(time.Hour)
		h.run()
		h.wantStatus(otn, service.StatusRefunded)
	})
}

// Defect 3: a callback for another region's batch changes nothing and
// raises an alert, whichever of URL, event and credentials disagrees.
func TestCallbackOnTheWrongRegionChangesNothing(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = func(int, service.Posting) (service.PostingResult, error) {
			return service.PostingResult{Status: service.PostingPending, Reference: "SB-W"}, nil
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(27), uid, 11, 150000)
		h.run()
		h.wantStatus(otn, service.StatusPosting)
		for i, ev := range []service.PlatformEvent{
			{Region: "sc-cd", URLRegion: "sc-cd", CredentialRegion: "sc-cd"},
			{Region: "gd-gz", URLRegion: "sc-cd", CredentialRegion: "gd-gz"},
			{Region: "gd-gz", URLRegion: "gd-gz", CredentialRegion: "sc-cd"},
		} {
			for _, typ := range []string{service.EventPostingRejected, service.EventPostingAccepted} {
				ev.EventID, ev.Type, ev.IdempotencyKey = "evw"+typ, typ, otn
				ev.Result = acceptedResult(otn, 150000)
				if typ == service.EventPostingRejected {
					ev.Result = service.PostingResult{Status: service.PostingRejected, Reason: "x"}
				}
				if err := h.posting.HandlePlatformEvent(ctx, ev); err != nil {
					t.Fatalf("case %d %s: %v", i, typ, err)
				}
				h.wantStatus(otn, service.StatusPosting)
			}
		}
		if n := h.refundCount(); n != 0 {
			t.Fatalf("refunds: %d", n)
		}
		if as := h.alerts(service.AlertCallbackRegionMismatch); len(as) != 1 || as[0].Count != 6 {
			t.Fatalf("region alerts: got %+v, want one alert raised 6 times", as)
		}
		rec, err := h.store.FindPosting(ctx, otn)
		if err != nil || rec.Status != service.PostingPending {
			t.Fatalf("posting record: %+v %v, want still pending", rec, err)
		}
		if vs, _ := h.vouchers.ListForUser(ctx, uid, orderNo(27)); len(vs) != 0 {
			t.Fatalf("vouchers: got %d, want 0", len(vs))
		}
	})
}

// Defect 3: an acceptance for a refunded batch records nothing, issues no
// voucher and raises posted_after_refund.
func TestAcceptanceForARefundedBatchRecordsNothing(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = func(int, service.Posting) (service.PostingResult, error) {
			return service.PostingResult{Status: service.PostingRejected}, &service.PlatformRejection{Code: service.RejectNotInsured, Reason: "未参保"}
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(28), uid, 11, 150000)
		h.run()
		h.wantStatus(otn, service.StatusRefunded)
		if err := h.posting.HandlePlatformEvent(ctx, service.PlatformEvent{EventID: "late", Type: service.EventPostingAccepted,
			Region: "gd-gz", URLRegion: "gd-gz", CredentialRegion: "gd-gz", IdempotencyKey: otn, Result: acceptedResult(otn, 150000)}); err != nil {
			t.Fatal(err)
		}
		h.wantStatus(otn, service.StatusRefunded)
		rec, err := h.store.FindPosting(ctx, otn)
		if err != nil || rec.Status != service.PostingRejected || rec.Receipt != nil {
			t.Fatalf("posting record: %+v %v, want still rejected without receipt", rec, err)
		}
		if n := len(h.alerts(service.AlertPostedAfterRefund)); n != 1 {
			t.Fatalf("posted_after_refund alerts: got %d, want 1", n)
		}
		if vs, _ := h.vouchers.ListForUser(ctx, uid, orderNo(28)); len(vs) != 0 {
			t.Fatalf("vouchers: got %d, want 0", len(vs))
		}
	})
}

// Defect 5: two workers and a slow platform: a job's call is cut inside its
// lease, so the second worker never calls for the same job at the same
// moment. The clock follows real time (leases are measured on it).
func TestTwoWorkersAndASlowPlatformNeverCallTwiceAtOnce(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.user("o1", 11)
		h.clock.Set(time.Now())
		otn := h.paid(orderNo(29), uid, 11, 150000)
		stop := make(chan struct{})
		var tick sync.WaitGroup
		tick.Add(1)
		go func() { // the injected clock follows real time
			defer tick.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
					h.clock.Set(time.Now())
				}
			}
		}()
		h.platform.block = make(chan struct{}) // calls hang until their deadline
		lease := 400 * time.Millisecond
		a := service.NewPostingService(h.postingDeps("worker-a", lease))
		b := service.NewPostingService(h.postingDeps("worker-b", lease))
		var wg sync.WaitGroup
		for _, w := range []*service.PostingService{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 60; i++ {
					if _, err := w.RunOnce(ctx); err != nil {
						t.Errorf("run: %v", err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		close(stop)
		tick.Wait()
		h.platform.mu.Lock()
		got := h.platform.maxInflight
		h.platform.mu.Unlock()
		if got != 1 {
			t.Fatalf("most calls in flight at once for %s: got %d, want 1", otn, got)
		}
	})
}

// Defect 7: the posting of a quote with family mutual aid carries the
// deduction and its account; the lines keep their full amounts so that
// amount_fen + mutual_aid_fen = the sum of the lines. The old posting left
// the deduction out (the fund was short-paid, the balance never moved).
func TestPostingCarriesTheMutualAidDeduction(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		var sent []service.Posting
		h.platform.answer = func(n int, p service.Posting) (service.PostingResult, error) {
			sent = append(sent, p)
			r := acceptedResult(p.IdempotencyKey, p.AmountFen)
			r.MutualAidFen = p.MutualAidFen
			return r, nil
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(30), uid, 11, 150000-20000) // WeChat collected the total minus 200 元 of mutual aid
		q := h.quotes.m["Q"+orderNo(30)]
		q.Lines[0].AmountFen, q.Lines[1].AmountFen = 100000, 50000 // pension 1000 元, medical 500 元
		q.MutualAidFen = 20000
		h.run()
		h.wantStatus(otn, service.StatusPosted)
		if len(sent) != 1 {
			t.Fatalf("postings sent: %d", len(sent))
		}
		p := sent[0]
		var sum service.Fen
		for _, l := range p.Lines {
			sum += l.AmountFen
		}
		if p.MutualAidFen != 20000 || p.AmountFen != 130000 || sum != p.AmountFen+p.MutualAidFen || p.MutualAidAccount.IDNumber == "" {
			t.Fatalf("posting: amount %d aid %d account %+v lines %d, want 130000 + 20000 = 150000 with an account", p.AmountFen, p.MutualAidFen, p.MutualAidAccount, sum)
		}
		if n := len(h.alerts(service.AlertMutualAidMismatch)); n != 0 {
			t.Fatalf("mutual aid alerts: %d", n)
		}
	})
}

// noPersons finds no person (the console's resolve action reads none).
type noPersons struct{}

func (noPersons) FindPerson(context.Context, int64) (*service.Person, error) {
	return nil, service.ErrNotFound
}
