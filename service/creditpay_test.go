package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

// The collection day is the rule's day of the month after confirmation, in
// Asia/Shanghai: a confirmation at 00:30 on 1 February in Shanghai (still
// 31 January in UTC) is collected on 10 March, not 10 February.
func TestCreditCollectionAtIsTheNextShanghaiMonth(t *testing.T) {
	rule := &service.CreditPayRule{CollectionDay: 10}
	for _, c := range []struct {
		confirmed time.Time
		want      time.Time
	}{
		{time.Date(2026, 1, 31, 15, 59, 0, 0, time.UTC), time.Date(2026, 2, 10, 9, 0, 0, 0, service.Shanghai)}, // 31 Jan 23:59 Shanghai
		{time.Date(2026, 1, 31, 16, 30, 0, 0, time.UTC), time.Date(2026, 3, 10, 9, 0, 0, 0, service.Shanghai)}, // 1 Feb 00:30 Shanghai
		{time.Date(2026, 12, 15, 4, 0, 0, 0, time.UTC), time.Date(2027, 1, 10, 9, 0, 0, 0, service.Shanghai)},  // across the year
		{time.Date(2026, 12, 9, 2, 0, 0, 0, time.UTC), time.Date(2027, 1, 10, 9, 0, 0, 0, service.Shanghai)},   // before this month's day: still next month
	} {
		if got := rule.CollectionAt(c.confirmed); !got.Equal(c.want) {
			t.Errorf("confirmed %s: got %s, want %s", c.confirmed, got.In(service.Shanghai), c.want)
		}
	}
}

type collections []service.CreditOrder

func (c collections) FindCollectedBetween(ctx context.Context, from, to time.Time) ([]service.CreditOrder, error) {
	var out []service.CreditOrder
	for _, x := range c {
		if !x.CollectedAt.Before(from) && x.CollectedAt.Before(to) {
			out = append(out, x)
		}
	}
	return out, nil
}

// Reconciliation leaves credit batches (no WeChat Pay trade) out of the
// payment comparison and compares the bill's Pay Score collections with
// ours: a matching collection is silent, a short one is amount_diff, one
// missing from the bill is missing_remote.
func TestReconciliationCoversPayScoreCollections(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.user("o1", 11)
		cash := h.paid(orderNo(60), uid, 11, 10000)
		credit := h.paid(orderNo(61), uid, 11, 20000)
		// Batch 61 is paid on credit: no WeChat Pay transaction.
		if err := h.db.Exec("UPDATE batches SET funding = 'credit', transaction_id = NULL WHERE out_trade_no = ?", credit).Error; err != nil {
			t.Fatal(err)
		}
		now := h.clock.Now()
		ok := service.CreditOrder{OutOrderNo: "CPok_01", AmountFen: 30000, TransactionID: "4200PS1", CollectedAt: now}
		short := service.CreditOrder{OutOrderNo: "CPshort_01", AmountFen: 40000, TransactionID: "4200PS2", CollectedAt: now}
		gone := service.CreditOrder{OutOrderNo: "CPgone_01", AmountFen: 50000, TransactionID: "4200PS3", CollectedAt: now}
		h.gw.bill = []service.BillRow{
			{OutTradeNo: cash, TransactionID: "4200" + orderNo(60), TradeState: service.TradeSuccess, TotalFen: 10000},
			{OutTradeNo: "CPok_01", TransactionID: "4200PS1", TradeState: service.TradeSuccess, TotalFen: 30000},
			{OutTradeNo: "wx-generated", TransactionID: "4200PS2", TradeState: service.TradeSuccess, TotalFen: 39999},
		}
		h.recon.SetCreditCollections(collections{ok, short, gone})
		rep, err := h.recon.Reconcile(ctx, now)
		if err != nil {
			t.Fatalf("reconcile: %v", err)
		}
		got := map[string]string{}
		for _, f := range rep.Findings {
			got[f.OutTradeNo] = f.Kind
		}
		want := map[string]string{"CPshort_01": service.ReconAmountDiff, "CPgone_01": service.ReconMissingRemote}
		if len(got) != len(want) {
			t.Fatalf("findings: got %v, want %v (the credit batch %s must not be missing_remote)", got, want, credit)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("finding of %s: got %q, want %q (all %v)", k, got[k], v, got)
			}
		}
	})
}
