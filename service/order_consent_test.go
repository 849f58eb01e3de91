package service_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// A consent withdrawal closes the payer's WeChat Pay batches for the person
// at WeChat, but leaves a credit batch to its credit job: the job, due when
// the confirmation window ends, is made due now, and WeChat Pay is never
// asked about the credit batch (the job owns its Pay Score calls). The
// credit job itself is exercised end to end in
// app.TestCreditPayConsentWithdrawal.
func TestCloseForWithdrawnConsentWakesCreditJobs(t *testing.T) {
	clock := service.NewManualClock(orderNow)
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		e := newOrderEnv(t, db, clock)
		e.svc.SetCreditWaker(model.NewAfterStore(db))
		outbox := model.NewOutbox(db)

		e.addQuote(t, "qwx", 1, 1000)
		q := e.addQuote(t, "qcredit", 1, 2000)
		q.Lines[0].Month, q.Batches[0].FromMonth, q.Batches[0].ToMonth = "2026-05", "2026-05", "2026-05" // its own month
		wx := service.OutTradeNo(e.mustCreate(t, 1, "qwx").No, 1)
		credit := service.OutTradeNo(e.mustCreate(t, 1, "qcredit").No, 1)
		// The second order is paid by credit: its job looks at it when the
		// confirmation window ends.
		if err := db.Exec("UPDATE batches SET funding = ? WHERE out_trade_no = ?", string(service.FundingCredit), credit).Error; err != nil {
			t.Fatal(err)
		}
		if err := outbox.Enqueue(ctx, service.OutboxJob{Kind: service.JobCreditOrder, Ref: service.CreditOutOrderNo(credit),
			NextAttemptAt: clock.Now().Add(service.ConfirmWindow)}); err != nil {
			t.Fatal(err)
		}
		if jobs, err := outbox.Claim(ctx, service.JobCreditOrder, "before", time.Minute, 10); err != nil || len(jobs) != 0 {
			t.Fatalf("credit jobs due before the withdrawal: %+v, %v; want none", jobs, err)
		}

		for round := 1; round <= 2; round++ { // a second withdrawal is harmless
			left, err := e.svc.CloseForWithdrawnConsent(ctx, 1, 7)
			if err != nil || left != 1 {
				t.Fatalf("round %d: left %d, %v; want the credit batch left to its job", round, left, err)
			}
		}
		if got := e.batch(t, e.orderOf(credit), 1).Status; got != service.StatusPendingPayment {
			t.Fatalf("credit batch: %s, want pending (its job closes it)", got)
		}
		if got := e.batch(t, e.orderOf(wx), 1).Status; got != service.StatusClosed {
			t.Fatalf("WeChat Pay batch: %s, want closed", got)
		}
		e.gw.mu.Lock()
		closes := slices.Clone(e.gw.closes)
		e.gw.mu.Unlock()
		if !slices.Equal(closes, []string{wx}) {
			t.Fatalf("WeChat Pay closes: %v, want only %s", closes, wx)
		}
		jobs, err := outbox.Claim(ctx, service.JobCreditOrder, "after", time.Minute, 10)
		if err != nil || len(jobs) != 1 || jobs[0].Ref != service.CreditOutOrderNo(credit) {
			t.Fatalf("credit jobs due after the withdrawal: %+v, %v; want the credit batch's job, now", jobs, err)
		}
	})
}

// orderOf returns the order number of an out_trade_no.
func (e *orderEnv) orderOf(outTradeNo string) string {
	no, _, _ := service.SplitOutTradeNo(outTradeNo)
	return no
}
