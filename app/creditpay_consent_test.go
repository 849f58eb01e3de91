package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/paysim"
)

// Credit pay for a family member who then withdraws the payer's consent
// (撤回代缴授权). The withdrawal makes the credit job due at once: it cancels
// the Pay Score service order before the confirmation window ends, exactly
// as for an ended window (query, close the batch, cancel at WeChat). A
// confirmation that wins the race is kept and, being paid after the
// withdrawal, held by the third-party rule like a WeChat Pay payment.

// familyCredit is a payer paying by credit for a member who consented with
// their own WeChat (an active binding).
type familyCredit struct {
	payer   payer // quoteID: a quote for the member
	member  payer // the member's own session
	binding string
}

// newFamily binds a new member to a new payer through the API (the member
// accepts the invitation) and stores the payer's quote of amount fen for
// the member.
func (e *creditEnv) newFamily(tb testing.TB, name string, amount service.Fen) familyCredit {
	tb.Helper()
	member := e.newPayer(tb, name+"母", amount, false)
	p := e.newPayer(tb, name+"子", amount, false)
	code, body := e.call(tb, p, http.MethodPost, "/api/v1/family", `{"name":"`+member.person.Name+`","id_type":"resident_id","id_number":"`+
		member.person.IDNumber+`","relation":"parent"}`)
	var add struct {
		ID         int64  `json:"id"`
		Invitation string `json:"invitation"`
	}
	if code != http.StatusCreated || json.Unmarshal(body, &add) != nil || add.Invitation == "" {
		tb.Fatalf("add family member: %d %s", code, body)
	}
	if code, body := e.call(tb, member, http.MethodPost, "/api/v1/family/invitations/"+add.Invitation+"/accept", ""); code != http.StatusOK ||
		!strings.Contains(string(body), `"status":"active"`) {
		tb.Fatalf("member accepts: %d %s", code, body)
	}
	p.quoteID = e.quote(tb, p.userID, member.personID, amount, false)
	return familyCredit{payer: p, member: member, binding: strconv.FormatInt(add.ID, 10)}
}

// withdraw is the member withdrawing consent with their own WeChat.
func (e *creditEnv) withdraw(tb testing.TB, f familyCredit) {
	tb.Helper()
	if code, body := e.call(tb, f.member, http.MethodDelete, "/api/v1/family/consents/"+f.binding, ""); code != http.StatusOK ||
		!strings.Contains(string(body), `"status":"withdrawn"`) {
		tb.Fatalf("withdraw consent: %d %s", code, body)
	}
}

func TestCreditPayConsentWithdrawal(t *testing.T) {
	eachCredit(t, func(t *testing.T, e *creditEnv) {
		t.Run("CancelledBeforeTheWindowEnds", func(t *testing.T) {
			f := e.newFamily(t, "撤回甲", 60000)
			s := e.start(t, f.payer)
			e.clock.Advance(time.Minute)
			e.withdraw(t, f)
			// No new confirmation parameters for the member (as PayBatch
			// refuses new pay params).
			if code, body := e.call(t, f.payer, http.MethodPost, "/api/v1/credit/orders/"+s.OrderNo+"/confirmation", ""); code != http.StatusForbidden ||
				!strings.Contains(string(body), service.CodeConsentWithdrawn) {
				t.Fatalf("confirmation params after the withdrawal: %d %s; want 403 %s", code, body, service.CodeConsentWithdrawn)
			}
			c := e.credit(t, s.OrderNo)
			if !e.clock.Now().Before(c.ConfirmBy) {
				t.Fatalf("the window has ended (%s); the test needs it open", c.ConfirmBy)
			}
			// The job was due at ConfirmBy; the withdrawal made it due now.
			e.runCredit(t)
			c = e.credit(t, s.OrderNo)
			if c.State != service.CreditCancelled || c.CancelReason != service.WhyConsentWithdrawn {
				t.Fatalf("credit: %s (%q), want cancelled for %q", c.State, c.CancelReason, service.WhyConsentWithdrawn)
			}
			if b := e.batch(t, s.OrderNo); b.Status != service.StatusClosed {
				t.Fatalf("batch: %s, want closed", b.Status)
			}
			if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.State != service.ServiceRevoked || r.Completes != 0 {
				t.Fatalf("service order: %+v, want REVOKED before the window ended", r)
			}
			if _, err := e.a.Sims.Pay.ConfirmServiceOrder(s.Confirm.ExtraData); err == nil {
				t.Fatal("the member's cancelled service order could still be confirmed")
			}
			if n := e.events(t, s.OrderNo, "credit_cancelled"); n != 1 {
				t.Fatalf("%d credit_cancelled events, want 1", n)
			}
			// Withdrawing again changes nothing.
			e.withdraw(t, f)
			e.runCredit(t)
			if n := e.events(t, s.OrderNo, "credit_cancelled"); n != 1 {
				t.Fatalf("%d credit_cancelled events after a second withdrawal, want 1", n)
			}
		})

		t.Run("CancelUnknownIsAlertedAndRetried", func(t *testing.T) {
			f := e.newFamily(t, "撤回乙", 60000)
			s := e.start(t, f.payer)
			e.clock.Advance(time.Minute)
			e.a.Sims.Pay.SetPayScoreFaults(paysim.PayScoreFaults{CancelFail: 1})
			defer e.a.Sims.Pay.SetPayScoreFaults(paysim.PayScoreFaults{})
			e.withdraw(t, f)
			e.runCredit(t)
			// The batch was closed first; the cancel's outcome is unknown.
			if b := e.batch(t, s.OrderNo); b.Status != service.StatusClosed {
				t.Fatalf("batch: %s, want closed before the cancel", b.Status)
			}
			if c := e.credit(t, s.OrderNo); c.State != service.CreditCreated {
				t.Fatalf("credit after an unknown cancel: %s, want created", c.State)
			}
			if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.State != service.ServiceCreated {
				t.Fatalf("service order: %+v, want CREATED (the cancel failed)", r)
			}
			if n := e.alerts(t, service.AlertCreditOutcomeUnknown, s.Credit.OutOrderNo); n != 1 {
				t.Fatalf("credit_outcome_unknown alerts: %d, want 1", n)
			}
			// The user confirms meanwhile: the notification finds the batch
			// closed; nothing is posted and the batch is not reopened.
			e.confirm(t, s)
			if b := e.batch(t, s.OrderNo); b.Status != service.StatusClosed {
				t.Fatalf("batch after a late confirmation: %s, want closed", b.Status)
			}
			if n := e.events(t, s.OrderNo, "paid"); n != 0 {
				t.Fatalf("%d paid events, want 0", n)
			}
			// The next round queries (DOING), and cancels.
			e.clock.Advance(service.CreditUnknownRetry)
			e.runCredit(t)
			c := e.credit(t, s.OrderNo)
			if c.State != service.CreditCancelled || c.CancelReason != service.WhyConsentWithdrawn {
				t.Fatalf("credit: %s (%q), want cancelled for %q", c.State, c.CancelReason, service.WhyConsentWithdrawn)
			}
			if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.State != service.ServiceRevoked || r.Completes != 0 {
				t.Fatalf("service order: %+v, want REVOKED, never completed", r)
			}
			if _, err := e.a.After.Posting.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if b := e.batch(t, s.OrderNo); b.Status != service.StatusClosed {
				t.Fatalf("batch at the end: %s, want closed", b.Status)
			}
		})

		t.Run("ConfirmationWinsTheRace", func(t *testing.T) {
			// The job has asked WeChat (CREATED) when the confirmation is
			// applied: the batch is paid on credit, so the job cancels
			// nothing; one outcome only.
			f := e.newFamily(t, "撤回丙", 60000)
			s := e.start(t, f.payer)
			e.clock.Advance(time.Minute)
			e.withdraw(t, f)
			// Applied 300 ms after the withdrawal, in the same second: it
			// is still after it (the third-party rule holds it).
			e.clock.Advance(300 * time.Millisecond)
			var once sync.Once
			e.mu.Lock()
			e.afterQuery = func(no string) {
				if no == s.Credit.OutOrderNo {
					once.Do(func() { e.confirm(t, s) })
				}
			}
			e.mu.Unlock()
			defer func() { e.mu.Lock(); e.afterQuery = nil; e.mu.Unlock() }()
			e.runCredit(t)
			if b := e.batch(t, s.OrderNo); b.Status != service.StatusPaid {
				t.Fatalf("batch: %s, want paid on credit", b.Status)
			}
			if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.State != service.ServiceDoing {
				t.Fatalf("service order: %+v, want DOING (not cancelled)", r)
			}
			if c := e.credit(t, s.OrderNo); c.State != service.CreditConfirmed {
				t.Fatalf("credit: %s, want confirmed", c.State)
			}
			if n, m := e.events(t, s.OrderNo, "paid"), e.events(t, s.OrderNo, "credit_cancelled"); n != 1 || m != 0 {
				t.Fatalf("%d paid and %d credit_cancelled events, want 1 and 0", n, m)
			}
			// Paid after the withdrawal: held, not posted.
			e.wantHeldThirdParty(t, s)
		})

		t.Run("ConfirmedAfterTheWithdrawalIsHeld", func(t *testing.T) {
			// The confirmation arrives before the woken job runs: it is
			// applied (the user confirmed at WeChat) and held by the
			// third-party rule like a WeChat Pay payment after the
			// withdrawal; at the hold's expiry the credit is reversed and
			// nothing is collected.
			f := e.newFamily(t, "撤回丁", 60000)
			s := e.start(t, f.payer)
			e.clock.Advance(time.Minute)
			e.withdraw(t, f)
			e.clock.Advance(time.Minute)
			e.confirm(t, s)
			if b := e.batch(t, s.OrderNo); b.Status != service.StatusPaid {
				t.Fatalf("batch after the confirmation: %s, want paid on credit", b.Status)
			}
			h := e.wantHeldThirdParty(t, s)
			e.runCredit(t)
			if c := e.credit(t, s.OrderNo); c.State != service.CreditConfirmed {
				t.Fatalf("credit while held: %s, want confirmed", c.State)
			}
			if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.State != service.ServiceDoing {
				t.Fatalf("service order while held: %+v, want DOING", r)
			}
			ctx := context.Background()
			e.clock.Set(h.ExpiresAt)
			if _, err := e.a.After.Posting.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := e.a.After.Refunds.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if b := e.batch(t, s.OrderNo); b.Status != service.StatusRefunded {
				t.Fatalf("batch after the hold expired: %s, want refunded (nothing to pay back)", b.Status)
			}
			if c := e.credit(t, s.OrderNo); c.State != service.CreditCancelled {
				t.Fatalf("credit: %s, want cancelled", c.State)
			}
			if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.State != service.ServiceRevoked || r.Completes != 0 {
				t.Fatalf("service order: %+v, want REVOKED, never completed", r)
			}
			if n := len(e.a.Sims.Pay.Ledger().Refunds); n != 0 {
				t.Fatalf("%d WeChat Pay refunds for a credit batch, want 0", n)
			}
		})
	})
}

// wantHeldThirdParty runs the posting flow on the credit batch of s, paid
// after the withdrawal, and wants it held by the third-party rule (refund at
// expiry), never posted.
func (e *creditEnv) wantHeldThirdParty(tb testing.TB, s creditStart) *service.Hold {
	tb.Helper()
	ctx := context.Background()
	if _, err := e.a.After.Posting.RunOnce(ctx); err != nil {
		tb.Fatalf("posting: %v", err)
	}
	otn := s.Batches[0].OutTradeNo
	if b := e.batch(tb, s.OrderNo); b.Status != service.StatusHeld {
		tb.Fatalf("batch confirmed after the withdrawal: %s, want held", b.Status)
	}
	h, err := e.a.After.Holds.Find(ctx, otn)
	if err != nil || len(h.Rules) != 1 || h.Rules[0] != service.RuleThirdParty || h.Action != service.HoldRefund {
		tb.Fatalf("hold = %+v, %v; want third_party, refund at expiry", h, err)
	}
	if _, err := model.NewAfterStore(e.a.DB).FindPosting(ctx, otn); err == nil {
		tb.Fatalf("a posting record exists for the held batch %s", otn)
	}
	return h
}
