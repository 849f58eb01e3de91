package model_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// An alert is one row per (kind, ref): repeats, from a batch change or
// directly and from many goroutines at once, count on it and move its
// last-seen time; another kind or ref is another alert.
func TestAlertsAreDeduplicatedPerKindAndRefWithACountAndLastSeen(t *testing.T) {
	t1 := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	clock := service.NewManualClock(t1)
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		clock.Set(t1)
		ctx := context.Background()
		orders := model.NewOrderStore(db)
		o := newTestOrder("SP2611240000A001", 1, "QA1", 1)
		mustCreateOrder(t, orders, o)
		otn := o.Batches[0].OutTradeNo
		if err := orders.RecordAlert(ctx, service.Alert{Kind: service.AlertPaymentState, Ref: otn, Detail: "first"}); err != nil {
			t.Fatalf("record: %v", err)
		}
		clock.Advance(time.Minute)
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = orders.RecordAlert(ctx, service.Alert{Kind: service.AlertPaymentState, Ref: otn, Detail: fmt.Sprintf("repeat %d", i)})
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("repeat %d: %v", i, err)
			}
		}
		clock.Advance(time.Minute)
		// The same alert raised inside a batch change (a no-op change).
		if _, err := orders.UpdateBatch(ctx, otn, func(o *service.Order, b *service.Batch, fx *service.Effects) error {
			fx.Alerts = append(fx.Alerts, service.Alert{Kind: service.AlertPaymentState, Ref: otn, Detail: "latest"})
			return service.ErrNoChange
		}); err != nil {
			t.Fatalf("update batch: %v", err)
		}
		if err := orders.RecordAlert(ctx, service.Alert{Kind: service.AlertRefundState, Ref: otn, Detail: "other kind"}); err != nil {
			t.Fatalf("record other kind: %v", err)
		}
		if got := countRows(t, db, "alerts", ""); got != 2 {
			t.Fatalf("alert rows: got %d, want 2 (one per kind and ref)", got)
		}
		as, err := orders.FindAlerts(ctx, "open", 10)
		if err != nil {
			t.Fatalf("find: %v", err)
		}
		var got *service.Alert
		for i := range as {
			if as[i].Kind == service.AlertPaymentState {
				got = &as[i]
			}
		}
		if got == nil {
			t.Fatalf("payment_state alert missing: %+v", as)
		}
		if got.Count != n+2 || got.Detail != "latest" || !got.CreatedAt.Equal(t1) || !got.LastSeenAt.Equal(t1.Add(2*time.Minute)) {
			t.Fatalf("alert: got count=%d detail=%q created=%s last_seen=%s; want count=%d detail=latest created=%s last_seen=%s",
				got.Count, got.Detail, got.CreatedAt, got.LastSeenAt, n+2, t1, t1.Add(2*time.Minute))
		}
		// A resolved alert that happens again is reopened, not duplicated.
		if err := db.Exec("UPDATE alerts SET status = 'resolved' WHERE kind = ?", service.AlertPaymentState).Error; err != nil {
			t.Fatalf("resolve: %v", err)
		}
		if err := orders.RecordAlert(ctx, service.Alert{Kind: service.AlertPaymentState, Ref: otn, Detail: "again"}); err != nil {
			t.Fatalf("record again: %v", err)
		}
		if got := countRows(t, db, "alerts", "kind = ? AND status = 'open' AND seen_count = ?", service.AlertPaymentState, n+3); got != 1 {
			t.Fatalf("reopened alert rows: got %d, want 1 with count %d", got, n+3)
		}
	})
}
