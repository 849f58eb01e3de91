package service_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

func TestPaymentPoller(t *testing.T) {
	ctx := context.Background()
	newPoller := func(e *orderEnv) *service.PaymentPoller {
		return service.NewPaymentPoller(service.PollerDeps{Payments: e.svc, Store: e.deps.Store, Gateway: e.deps.Gateway,
			Clock: e.deps.Clock, Log: e.deps.Log})
	}

	t.Run("RecoversMissedNotification", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		paidAt := orderNow.Add(time.Minute)
		e.gw.pay(t, service.OutTradeNo(o.No, 1), paidAt)
		p := newPoller(e)
		if st, err := p.PollOnce(ctx); err != nil || st.Checked != 0 {
			t.Fatalf("poll before 3m: %+v %v, want nothing checked", st, err)
		}
		e.clock.Advance(4 * time.Minute)
		st, err := p.PollOnce(ctx)
		if err != nil || st.Paid != 1 {
			t.Fatalf("poll: %+v %v, want one paid", st, err)
		}
		b := e.batch(t, o.No, 1)
		if b.Status != service.StatusPaid || !b.PaidAt.Equal(paidAt) {
			t.Fatalf("batch=%+v, want paid at %v", b, paidAt)
		}
		if got := count(t, e.db, "payment_events", "source = ?", "query"); got != 1 {
			t.Fatalf("query events=%d, want 1", got)
		}
		if got := count(t, e.db, "outbox", ""); got != 1 {
			t.Fatalf("outbox=%d, want 1", got)
		}
	})

	t.Run("UnpaidBeforeExpiryStaysPendingAndWaitsItsTurn", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		p := newPoller(e)
		e.clock.Advance(4 * time.Minute)
		if st, _ := p.PollOnce(ctx); st.Checked != 1 {
			t.Fatalf("checked=%d, want 1", st.Checked)
		}
		if st, _ := p.PollOnce(ctx); st.Checked != 0 {
			t.Fatalf("checked again at once: %d, want 0 (touched batches wait QueryAfter)", st.Checked)
		}
		if b := e.batch(t, o.No, 1); b.Status != service.StatusPendingPayment || e.gw.closeCount() != 0 {
			t.Fatalf("batch=%s closes=%d, want pending and not closed", b.Status, e.gw.closeCount())
		}
	})

	t.Run("ConsentWithdrawnClosedBeforeExpiry", func(t *testing.T) {
		// The close made when the member withdrew consent failed; the
		// poller closes the batch on its next look, long before
		// time_expire, through the same close path.
		e := newSQLiteOrderEnv(t)
		gate := &consentGate{}
		e.deps.Consent = gate
		e.svc = service.NewOrderService(e.deps)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		e.clock.Advance(4 * time.Minute)
		p := newPoller(e)
		if st, err := p.PollOnce(ctx); err != nil || st.Closed != 0 || e.gw.closeCount() != 0 {
			t.Fatalf("poll with consent: %+v %v closes=%d, want nothing closed", st, err, e.gw.closeCount())
		}
		gate.withdrawn.Store(true)
		e.clock.Advance(4 * time.Minute)
		st, err := p.PollOnce(ctx)
		if err != nil || st.Closed != 1 {
			t.Fatalf("poll after withdrawal: %+v %v, want one closed", st, err)
		}
		if b := e.batch(t, o.No, 1); b.Status != service.StatusClosed || e.gw.closeCount() != 1 {
			t.Fatalf("batch=%s closes=%d, want closed at WeChat once", b.Status, e.gw.closeCount())
		}
	})

	t.Run("ExpiredUnpaidClosedAfterQuery", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		e.clock.Advance(31 * time.Minute)
		st, err := newPoller(e).PollOnce(ctx)
		if err != nil || st.Closed != 1 {
			t.Fatalf("poll: %+v %v, want one closed", st, err)
		}
		if got := e.gw.queries; got < 1 {
			t.Fatalf("queries=%d, want the query before the close", got)
		}
		if b := e.batch(t, o.No, 1); b.Status != service.StatusClosed {
			t.Fatalf("status=%s, want closed", b.Status)
		}
		if e.gw.closeCount() != 1 {
			t.Fatalf("closes=%d, want 1", e.gw.closeCount())
		}
	})

	t.Run("ExpiredButPaidIsPaidNotClosed", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		e.gw.pay(t, service.OutTradeNo(o.No, 1), orderNow.Add(29*time.Minute))
		e.clock.Advance(31 * time.Minute)
		if _, err := newPoller(e).PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if b := e.batch(t, o.No, 1); b.Status != service.StatusPaid {
			t.Fatalf("status=%s, want paid", b.Status)
		}
		if e.gw.closeCount() != 0 {
			t.Fatalf("closed a paid trade")
		}
	})

	t.Run("QueryFailureNeverCloses", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		e.gw.failQuery = context.DeadlineExceeded
		e.clock.Advance(31 * time.Minute)
		if _, err := newPoller(e).PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if b := e.batch(t, o.No, 1); b.Status != service.StatusPendingPayment || e.gw.closeCount() != 0 {
			t.Fatalf("status=%s closes=%d, want pending and untouched at WeChat", b.Status, e.gw.closeCount())
		}
	})

	t.Run("NotFoundWithPrepayIDIsNotClosed", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		o := e.mustCreate(t, 1, "q1")
		e.gw.mu.Lock()
		delete(e.gw.trades, service.OutTradeNo(o.No, 1)) // WeChat denies the trade
		e.gw.mu.Unlock()
		e.clock.Advance(2 * time.Hour)
		if _, err := newPoller(e).PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if b := e.batch(t, o.No, 1); b.Status != service.StatusPendingPayment {
			t.Fatalf("status=%s, want pending (not found is not closed)", b.Status)
		}
		if got := count(t, e.db, "alerts", "kind = ?", service.AlertPaymentState); got != 1 {
			t.Fatalf("payment_state alerts=%d, want 1", got)
		}
		// Still denied a day later: the same alert counts the repeat.
		e.clock.Advance(25 * time.Hour)
		if _, err := newPoller(e).PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := count(t, e.db, "alerts", "kind = ? AND ref = ? AND seen_count = 2", service.AlertPaymentState, service.OutTradeNo(o.No, 1)); got != 1 {
			t.Fatalf("payment_state alert counted twice: rows=%d, want 1; all alerts=%d", got, count(t, e.db, "alerts", ""))
		}
	})

	t.Run("NotFoundWithoutPrepayIDClosedOnlyAfterTimeExpire", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		e.gw.failPrepay = context.DeadlineExceeded // the prepay timed out on our side
		if _, err := e.svc.CreateOrder(ctx, 1, "q1"); service.ErrorCode(err) != service.CodePrepayFailed {
			t.Fatalf("err=%v, want prepay_failed", err)
		}
		orders, _, _ := e.svc.FindOrders(ctx, 1, 1, 10)
		no := orders[0].No
		p := newPoller(e)
		e.clock.Advance(31 * time.Minute) // past time_expire, inside the grace
		if _, err := p.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if b := e.batch(t, no, 1); b.Status != service.StatusPendingPayment {
			t.Fatalf("status=%s inside the grace, want pending", b.Status)
		}
		e.clock.Advance(15 * time.Minute)
		if _, err := p.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if b := e.batch(t, no, 1); b.Status != service.StatusClosed {
			t.Fatalf("status=%s after time_expire+grace, want closed", b.Status)
		}
	})
}

// consentGate answers family_consent_withdrawn once withdrawn is set.
type consentGate struct{ withdrawn atomic.Bool }

func (g *consentGate) CheckConsent(context.Context, int64, int64) error {
	if g.withdrawn.Load() {
		return &service.Error{Kind: service.KindForbidden, Code: service.CodeConsentWithdrawn, Message: "withdrawn"}
	}
	return nil
}
