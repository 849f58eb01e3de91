package securitytest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/paysim"
)

// payParams reads an order reply's pay_params.
func payParams(r reply) service.PayParams {
	pp, _ := r.body["pay_params"].(map[string]any)
	p := service.PayParams{}
	for k, dst := range map[string]*string{"appId": &p.AppID, "timeStamp": &p.TimeStamp, "nonceStr": &p.NonceStr,
		"package": &p.Package, "signType": &p.SignType, "paySign": &p.PaySign} {
		*dst, _ = pp[k].(string)
	}
	return p
}

// TestWithdrawalClosesOpenTrades: when the member withdraws consent, the
// payer's unpaid batches for them are closed at WeChat at once, so pay
// params issued before cannot be used. Withdrawn twice at the same time as
// the notification of a trade paid just before: that trade is applied once
// and posts. A trade whose close fails stays pending (no new pay params);
// if WeChat then takes the money, the batch is held by the third-party rule
// and nothing is refunded or posted by the withdrawal. Runs on SQLite and
// MySQL.
func TestWithdrawalClosesOpenTrades(t *testing.T) {
	for _, db := range []string{"sqlite", "mysql"} {
		t.Run(db, func(t *testing.T) {
			var failClose atomic.Value // out_trade_no whose close answers 500
			failClose.Store("")
			hook := func(simURL string) string {
				u, _ := url.Parse(simURL)
				proxy := httputil.NewSingleHostReverseProxy(u)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if no := failClose.Load().(string); no != "" && strings.HasSuffix(r.URL.Path, "/"+no+"/close") {
						http.Error(w, `{"code":"SYSTEM_ERROR","message":"busy"}`, http.StatusInternalServerError)
						return
					}
					proxy.ServeHTTP(w, r)
				}))
				t.Cleanup(srv.Close)
				return srv.URL
			}
			e := newEnv(t, envOptions{mysql: db == "mysql", simFront: hook})
			sim := e.app.Sims.Pay
			payer := e.login(t, "wc-alice")
			e.verify(t, payer, aliceName, aliceID)
			add := e.do(t, "POST", "/api/v1/family", payer, map[string]string{"name": mumName, "id_type": "resident_id", "id_number": mumID, "relation": "parent"})
			want(t, "add mother", add, http.StatusCreated, "")
			binding := add.str("id")
			mum := e.login(t, "wc-mum")
			e.verify(t, mum, mumName, mumID)
			want(t, "mother accepts", e.do(t, "POST", "/api/v1/family/invitations/"+add.str("invitation")+"/accept", mum, nil), http.StatusOK, "")

			orders := map[string]reply{}
			for i, month := range []string{"2026-11", "2026-12", "2027-01"} {
				q := e.do(t, "POST", "/api/v1/quotes", payer, quoteFor(binding, month))
				want(t, "quote "+month, q, http.StatusCreated, "")
				orders[[]string{"open", "racing", "stuck"}[i]] = e.order(t, payer, q.str("id"), "wc-"+month)
			}
			otn := func(name string) string { return service.OutTradeNo(orders[name].str("order_no"), 1) }

			// "racing" is paid at WeChat; its notification waits.
			sim.SetNotifyBehavior(paysim.NotifyBehavior{Hold: true})
			if _, err := sim.RequestPayment(payParams(orders["racing"])); err != nil {
				t.Fatalf("pay racing: %v", err)
			}
			failClose.Store(otn("stuck"))

			// Two withdrawals and the notification at the same time.
			var wg sync.WaitGroup
			codes := make([]int, 2)
			for i := range codes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i] = e.do(t, "DELETE", "/api/v1/family/consents/"+binding, mum, nil).status
				}()
			}
			sim.SetNotifyBehavior(paysim.NotifyBehavior{})
			sim.ReleaseHeld(false, true)
			wg.Wait()
			for i, c := range codes {
				if c != http.StatusOK {
					t.Fatalf("withdrawal %d answered %d, want 200", i, c)
				}
			}

			// The open trade is closed at WeChat and here; its old pay params fail.
			if tr, _ := sim.Ledger().Trade(otn("open")); tr.State != "CLOSED" {
				t.Errorf("open trade at WeChat is %q after the withdrawal, want CLOSED", tr.State)
			}
			e.waitStatus(t, payer, orders["open"].str("order_no"), "closed")
			if _, err := sim.RequestPayment(payParams(orders["open"])); err == nil {
				t.Errorf("paying the open order with pay params issued before the withdrawal succeeded, want refused")
			}

			// The stuck trade could not be closed: it stays pending, no new
			// pay params are issued for it.
			if tr, _ := sim.Ledger().Trade(otn("stuck")); tr.State != "NOTPAY" {
				t.Errorf("stuck trade at WeChat is %q, want NOTPAY (its close failed)", tr.State)
			}
			want(t, "pay the stuck order", e.do(t, "POST", "/api/v1/orders/"+orders["stuck"].str("order_no")+"/batches/1/pay", payer, nil),
				http.StatusForbidden, "family_consent_withdrawn")

			// A minute later WeChat takes the stuck trade's money with the old
			// pay params: it is applied (WeChat has the money) but held for
			// review, never posted by this path.
			e.clock.Advance(time.Minute)
			if _, err := sim.RequestPayment(payParams(orders["stuck"])); err != nil {
				t.Fatalf("pay stuck: %v", err)
			}
			ctx := context.Background()
			deadline := time.Now().Add(20 * time.Second)
			for {
				if _, err := e.app.After.Posting.RunOnce(ctx); err != nil {
					t.Fatalf("posting: %v", err)
				}
				racing := e.do(t, "GET", "/api/v1/orders/"+orders["racing"].str("order_no"), payer, nil).str("status")
				stuck := e.do(t, "GET", "/api/v1/orders/"+orders["stuck"].str("order_no"), payer, nil).str("status")
				if racing == "posted" && stuck == "held" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("racing order %q, stuck order %q; want posted (paid by the withdrawal) and held (paid after it)", racing, stuck)
				}
				time.Sleep(20 * time.Millisecond)
			}
			h, err := e.app.After.Holds.Find(ctx, otn("stuck"))
			if err != nil || len(h.Rules) != 1 || h.Rules[0] != service.RuleThirdParty || h.Action != service.HoldRefund {
				t.Errorf("hold of the stuck batch = %+v, %v; want third_party, refund at expiry", h, err)
			}
			if n := len(sim.Ledger().Refunds); n != 0 {
				t.Errorf("refunds at WeChat = %d, want 0 (withdrawal never refunds)", n)
			}
		})
	}
}
