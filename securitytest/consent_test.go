package securitytest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// quoteFor is quoteBody for another start month, so that several open
// orders of one person do not claim the same month.
func quoteFor(person, month string) map[string]any {
	b := quoteBody(person)
	b["start_month"] = month
	return b
}

// TestMemberWithdrawsConsent is issue 11 item 7 (second half): the family
// member, with their own WeChat and verified as the bound person, withdraws
// consent. The payer can no longer quote, order or pay for them; the order
// paid before the withdrawal still posts (the third-party hold does not
// refund it). Runs on SQLite and MySQL.
func TestMemberWithdrawsConsent(t *testing.T) {
	for _, db := range []string{"sqlite", "mysql"} {
		t.Run(db, func(t *testing.T) {
			e := newEnv(t, envOptions{mysql: db == "mysql"})
			payer := e.login(t, "wd-alice")
			e.verify(t, payer, aliceName, aliceID)
			add := e.do(t, "POST", "/api/v1/family", payer, map[string]string{"name": mumName, "id_type": "resident_id", "id_number": mumID, "relation": "parent"})
			want(t, "add mother", add, http.StatusCreated, "")
			binding := add.str("id")
			mum := e.login(t, "wd-mum")
			e.verify(t, mum, mumName, mumID)
			want(t, "mother accepts", e.do(t, "POST", "/api/v1/family/invitations/"+add.str("invitation")+"/accept", mum, nil), http.StatusOK, "")

			quote := func(month string) reply {
				return e.do(t, "POST", "/api/v1/quotes", payer, quoteFor(binding, month))
			}
			qPaid, qOpen, qLater := quote("2026-11"), quote("2026-12"), quote("2027-01")
			for _, q := range []reply{qPaid, qOpen, qLater} {
				want(t, "quote for the mother", q, http.StatusCreated, "")
			}
			paid := e.order(t, payer, qPaid.str("id"), "wd-1")
			e.payInSimulator(t, payer, paid)
			open := e.order(t, payer, qOpen.str("id"), "wd-2")

			// Someone else (here the payer) cannot withdraw on the member's behalf.
			want(t, "payer uses the member's route", e.do(t, "DELETE", "/api/v1/family/consents/"+binding, payer, nil), http.StatusNotFound, "not_found")

			w := e.do(t, "DELETE", "/api/v1/family/consents/"+binding, mum, nil)
			want(t, "mother withdraws", w, http.StatusOK, "")
			if w.str("status") != "withdrawn" {
				t.Fatalf("withdraw answer status %q, want withdrawn: %s", w.str("status"), w.raw)
			}
			want(t, "mother withdraws again", e.do(t, "DELETE", "/api/v1/family/consents/"+binding, mum, nil), http.StatusOK, "")
			if r := e.do(t, "GET", "/api/v1/family", payer, nil); r.status != http.StatusOK || !strings.Contains(r.raw, `"status":"withdrawn"`) {
				t.Errorf("payer's family list after withdrawal = %s, want the binding withdrawn", r.raw)
			}

			want(t, "payer's next quote", quote("2027-01"), http.StatusForbidden, "family_consent_withdrawn")
			r := e.send(t, req{method: "POST", path: "/api/v1/orders", token: payer, body: map[string]string{"quote_id": qLater.str("id")},
				header: map[string]string{"Idempotency-Key": "wd-3"}})
			want(t, "order of a quote made before the withdrawal", r, http.StatusForbidden, "family_consent_withdrawn")
			want(t, "pay the open order", e.do(t, "POST", "/api/v1/orders/"+open.str("order_no")+"/batches/1/pay", payer, nil),
				http.StatusForbidden, "family_consent_withdrawn")
			want(t, "accept the old invitation again", e.do(t, "POST", "/api/v1/family/invitations/"+add.str("invitation")+"/accept", mum, nil),
				http.StatusForbidden, "family_consent_withdrawn")

			// The batch paid before the withdrawal runs its course: posted,
			// not held as a third-party payment and refunded.
			ctx := context.Background()
			deadline := time.Now().Add(20 * time.Second)
			for {
				if _, err := e.app.After.Posting.RunOnce(ctx); err != nil {
					t.Fatalf("posting: %v", err)
				}
				s := e.do(t, "GET", "/api/v1/orders/"+paid.str("order_no"), payer, nil).str("status")
				if s == "posted" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("paid order is %q after the withdrawal, want posted", s)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
