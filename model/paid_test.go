package model_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// TestMarkPaidLeavesNothingWhenAStatementOfItsRoundTripFailsOnMySQL: on
// MySQL the payment transition is one multi-statement round trip. When an
// INSERT in it fails (here a timeline type longer than its column), the
// batch stays pending, no effect row exists, and the connection carries no
// open transaction into the next payment (whose START TRANSACTION would
// otherwise commit the failed one's UPDATE).
func TestMarkPaidLeavesNothingWhenAStatementOfItsRoundTripFailsOnMySQL(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC))
	db := modeltest.MySQL(t, clock)
	store := model.NewOrderStore(db)
	ctx := context.Background()
	paid := func(no, eventType string) (bool, error) {
		otn := service.OutTradeNo(no, 1)
		var fx service.Effects
		fx.Raw = &service.RawEvent{EventID: "EV-" + no, Source: "notify", EventType: "TRANSACTION.SUCCESS", OutTradeNo: otn, TransactionID: "4200" + no, Body: "{}"}
		fx.Event(1, eventType, "paid")
		fx.Outbox = append(fx.Outbox, service.OutboxJob{Kind: service.JobPostBatch, Ref: otn, DeadlineAt: clock.Now().Add(72 * time.Hour)})
		return store.MarkPaid(ctx, service.PaidBatch{OrderNo: no, Seq: 1, OutTradeNo: otn, AmountFen: 1000,
			TransactionID: "4200" + no, PaidAt: clock.Now()}, &fx)
	}
	const bad, good = "SIS000000000000000101", "SIS000000000000000102"
	mustCreateOrder(t, store, newTestOrder(bad, 101, "qp-1", 1))
	mustCreateOrder(t, store, newTestOrder(good, 102, "qp-2", 1))

	for range 3 { // the failed connection is the most recently idle one: reused next
		if done, err := paid(bad, strings.Repeat("x", 41)); err == nil || done {
			t.Fatalf("MarkPaid with a failing INSERT: done=%v err=%v, want an error", done, err)
		}
	}
	if done, err := paid(good, "paid"); err != nil || !done {
		t.Fatalf("MarkPaid after the failure: done=%v err=%v, want done", done, err)
	}
	if done, err := paid(good, "paid"); err != nil || done {
		t.Fatalf("MarkPaid repeated: done=%v err=%v, want not done (the batch is paid)", done, err)
	}
	for _, c := range []struct {
		where string
		args  []any
		want  int
	}{
		{"order_no = ? AND status = ?", []any{bad, "pending_payment"}, 1},
		{"order_no = ? AND status = ? AND transaction_id = ?", []any{good, "paid", "4200" + good}, 1},
	} {
		if got := countRows(t, db, "batches", c.where, c.args...); got != c.want {
			t.Errorf("batches where %s %v: %d, want %d", c.where, c.args, got, c.want)
		}
	}
	if got := countRows(t, db, "order_events", "type <> ?", "created"); got != 1 {
		t.Errorf("order_events rows besides the orders' creation=%d, want 1 (the good payment's)", got)
	}
	for _, table := range []string{"payment_events", "outbox"} {
		if got := countRows(t, db, table, ""); got != 1 {
			t.Errorf("%s rows=%d, want 1 (the good payment's)", table, got)
		}
	}
}
