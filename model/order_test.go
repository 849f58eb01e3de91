package model_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// newTestOrder returns an order of userID for quoteID with n batches of 1000 fen.
func newTestOrder(no string, userID int64, quoteID string, n int) *service.Order {
	o := &service.Order{No: no, UserID: userID, PersonID: 9, QuoteID: quoteID, Region: "440300", AmountFen: service.Fen(1000 * n)}
	for i := 1; i <= n; i++ {
		o.Batches = append(o.Batches, service.Batch{OrderNo: no, Seq: i, OutTradeNo: service.OutTradeNo(no, i), AmountFen: 1000,
			FromMonth: "2026-01", ToMonth: "2026-01", Status: service.StatusPendingPayment})
	}
	return o
}

func mustCreateOrder(tb testing.TB, s *model.OrderStore, o *service.Order) {
	tb.Helper()
	if err := s.CreateOrder(context.Background(), o); err != nil {
		tb.Fatalf("CreateOrder %s: %v", o.No, err)
	}
}

func countRows(tb testing.TB, db *model.DB, table, where string, args ...any) int {
	tb.Helper()
	var n int64
	q := "SELECT COUNT(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	if err := db.Raw(q, args...).Scan(&n).Error; err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return int(n)
}

// payBatch is the paid transition with its effects, as the order service writes it.
func payBatch(txID, eventID string) service.BatchUpdater {
	return func(o *service.Order, b *service.Batch, fx *service.Effects) error {
		if b.Status != service.StatusPendingPayment {
			return service.ErrNoChange
		}
		b.Status, b.TransactionID, b.PaidAt = service.StatusPaid, txID, time.Date(2026, 11, 24, 8, 1, 0, 0, time.UTC)
		fx.Raw = &service.RawEvent{EventID: eventID, Source: "notify", EventType: "TRANSACTION.SUCCESS", OutTradeNo: b.OutTradeNo, TransactionID: txID, Body: "{}"}
		fx.Event(b.Seq, "paid", "paid")
		fx.Outbox = append(fx.Outbox, service.OutboxJob{Kind: service.JobPostBatch, Ref: b.OutTradeNo, DeadlineAt: b.PaidAt.Add(72 * time.Hour)})
		return nil
	}
}

func TestOrderStore(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		s := model.NewOrderStore(db)

		t.Run("CreateFindListByOwner", func(t *testing.T) {
			mustCreateOrder(t, s, newTestOrder("SIL000000000000000001", 101, "ql-1", 2))
			mustCreateOrder(t, s, newTestOrder("SIL000000000000000002", 101, "ql-2", 1))
			mustCreateOrder(t, s, newTestOrder("SIL000000000000000003", 102, "ql-3", 1))
			o, err := s.FindOrder(ctx, "SIL000000000000000001")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(o.Batches), 2; got != want {
				t.Fatalf("batches=%d, want %d", got, want)
			}
			if o.Status != service.StatusPendingPayment || !o.CreatedAt.Equal(clock.Now()) {
				t.Fatalf("order=%+v, want pending created at the clock's time", o)
			}
			list, total, err := s.FindOrders(ctx, service.OrderFilter{UserID: 101, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if total != 2 || len(list) != 2 || list[0].No != "SIL000000000000000002" {
				t.Fatalf("user 101 orders=%d/%d first=%v, want 2 newest first", len(list), total, list)
			}
			for _, o := range list {
				if o.UserID != 101 {
					t.Fatalf("order %s of user %d listed for 101", o.No, o.UserID)
				}
			}
			if byQuote, err := s.FindOrderByQuote(ctx, "ql-3"); err != nil || byQuote.No != "SIL000000000000000003" {
				t.Fatalf("by quote=%v %v, want SIL…003", byQuote, err)
			}
			if _, err := s.FindOrder(ctx, "SINOPE"); !errors.Is(err, service.ErrNotFound) {
				t.Fatalf("err=%v, want ErrNotFound", err)
			}
		})

		t.Run("OneOrderPerQuote", func(t *testing.T) {
			mustCreateOrder(t, s, newTestOrder("SIQ000000000000000001", 101, "qq-1", 1))
			err := s.CreateOrder(ctx, newTestOrder("SIQ000000000000000002", 101, "qq-1", 1))
			if !errors.Is(err, service.ErrDuplicate) {
				t.Fatalf("err=%v, want ErrDuplicate", err)
			}
			if got := countRows(t, db, "batches", "order_no = ?", "SIQ000000000000000002"); got != 0 {
				t.Fatalf("batches of the refused order=%d, want 0", got)
			}
		})

		t.Run("TransitionWritesEffectsOnce", func(t *testing.T) {
			no := "SIT000000000000000001"
			mustCreateOrder(t, s, newTestOrder(no, 101, "qt-1", 2))
			otn := service.OutTradeNo(no, 1)
			o, err := s.UpdateBatch(ctx, otn, payBatch("4200T1", "EV-T1"))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := o.Status, service.StatusPartiallyPaid; got != want {
				t.Fatalf("order status=%s, want %s", got, want)
			}
			if _, err := s.UpdateBatch(ctx, otn, payBatch("4200T1", "EV-T1")); err != nil {
				t.Fatal(err)
			}
			if got := countRows(t, db, "payment_events", "out_trade_no = ?", otn); got != 1 {
				t.Fatalf("payment events=%d, want 1", got)
			}
			if got := countRows(t, db, "outbox", "ref = ?", otn); got != 1 {
				t.Fatalf("outbox=%d, want 1", got)
			}
			if got := countRows(t, db, "order_events", "order_no = ? AND type = ?", no, "paid"); got != 1 {
				t.Fatalf("paid events=%d, want 1", got)
			}
			stored, _ := s.FindOrder(ctx, no)
			if stored.Status != service.StatusPartiallyPaid || stored.Batches[0].TransactionID != "4200T1" {
				t.Fatalf("stored=%+v, want batch 1 paid", stored)
			}
		})

		t.Run("NoChangeCommitsAlertsAndRawNotBatch", func(t *testing.T) {
			no := "SIN000000000000000001"
			mustCreateOrder(t, s, newTestOrder(no, 101, "qn-1", 1))
			otn := service.OutTradeNo(no, 1)
			_, err := s.UpdateBatch(ctx, otn, func(o *service.Order, b *service.Batch, fx *service.Effects) error {
				b.Status = service.StatusPaid // must not be written
				fx.Raw = &service.RawEvent{EventID: "EV-N1", Source: "notify", OutTradeNo: otn, Body: "{}"}
				fx.Alerts = append(fx.Alerts, service.Alert{Kind: service.AlertNotifyMismatch, Ref: otn, Detail: "amount"})
				return service.ErrNoChange
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := countRows(t, db, "alerts", "ref = ?", otn); got != 1 {
				t.Fatalf("alerts=%d, want 1", got)
			}
			if got := countRows(t, db, "payment_events", "event_id = ?", "EV-N1"); got != 1 {
				t.Fatalf("raw events=%d, want 1", got)
			}
			if o, _ := s.FindOrder(ctx, no); o.Batches[0].Status != service.StatusPendingPayment {
				t.Fatalf("batch status=%s, want pending", o.Batches[0].Status)
			}
		})

		t.Run("InvalidTransitionRefusedNothingWritten", func(t *testing.T) {
			no := "SII000000000000000001"
			mustCreateOrder(t, s, newTestOrder(no, 101, "qi-1", 1))
			otn := service.OutTradeNo(no, 1)
			_, err := s.UpdateBatch(ctx, otn, func(o *service.Order, b *service.Batch, fx *service.Effects) error {
				b.Status = service.StatusPosted
				fx.Event(1, "posted", "")
				return nil
			})
			if got, want := service.ErrorCode(err), "invalid_transition"; got != want {
				t.Fatalf("code=%q (%v), want %q", got, err, want)
			}
			if got := countRows(t, db, "order_events", "order_no = ? AND type = ?", no, "posted"); got != 0 {
				t.Fatalf("events written=%d, want 0", got)
			}
			if o, _ := s.FindOrder(ctx, no); o.Batches[0].Status != service.StatusPendingPayment {
				t.Fatalf("status=%s, want pending", o.Batches[0].Status)
			}
		})

		t.Run("UnknownOutTradeNoNotFound", func(t *testing.T) {
			_, err := s.UpdateBatch(ctx, "NOPE_01", func(*service.Order, *service.Batch, *service.Effects) error { return nil })
			if !errors.Is(err, service.ErrNotFound) {
				t.Fatalf("err=%v, want ErrNotFound", err)
			}
		})

		outbox := model.NewOutbox(db)

		t.Run("ClaimHasOneWinner", func(t *testing.T) {
			if err := outbox.Enqueue(ctx, service.OutboxJob{Kind: "claim_test", Ref: "r1"}); err != nil {
				t.Fatal(err)
			}
			var won atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 2; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					jobs, err := outbox.Claim(ctx, "claim_test", fmt.Sprintf("worker-%d", i), time.Minute, 10)
					if err != nil {
						t.Errorf("claim: %v", err)
					}
					won.Add(int32(len(jobs)))
				}(i)
			}
			wg.Wait()
			if got := won.Load(); got != 1 {
				t.Fatalf("claimed=%d, want exactly 1", got)
			}
		})

		t.Run("ExpiredLeaseReclaimedOldOwnerRefused", func(t *testing.T) {
			if err := outbox.Enqueue(ctx, service.OutboxJob{Kind: "lease_test", Ref: "r1"}); err != nil {
				t.Fatal(err)
			}
			jobs, err := outbox.Claim(ctx, "lease_test", "a", time.Minute, 1)
			if err != nil || len(jobs) != 1 {
				t.Fatalf("claim a: %v %v", jobs, err)
			}
			if again, _ := outbox.Claim(ctx, "lease_test", "b", time.Minute, 1); len(again) != 0 {
				t.Fatalf("b claimed a leased job")
			}
			clock.Advance(2 * time.Minute)
			again, err := outbox.Claim(ctx, "lease_test", "b", time.Minute, 1)
			if err != nil || len(again) != 1 || again[0].ID != jobs[0].ID {
				t.Fatalf("reclaim after expiry: %v %v, want job %d", again, err, jobs[0].ID)
			}
			if err := outbox.Complete(ctx, jobs[0].ID, "a"); !errors.Is(err, service.ErrStale) {
				t.Fatalf("complete by the old owner: err=%v, want ErrStale", err)
			}
			if err := outbox.Complete(ctx, jobs[0].ID, "b"); err != nil {
				t.Fatalf("complete by the owner: %v", err)
			}
			if n, _ := outbox.Pending(ctx, "lease_test"); n != 0 {
				t.Fatalf("pending=%d, want 0", n)
			}
		})
	})
}

// stormGateway is never called by HandleTransaction.
type stormGateway struct{ service.PaymentGateway }

type stormQuotes struct{}

func (stormQuotes) FindQuote(context.Context, int64, string) (*service.Quote, error) {
	return nil, service.ErrNotFound
}

type stormUsers struct{}

func (stormUsers) FindUserByID(context.Context, int64) (*service.User, error) {
	return nil, service.ErrNotFound
}

// TestNotifyStormOnMySQL delivers one TRANSACTION.SUCCESS 1,000 times at
// once, from 64 workers, through the order service.
func TestNotifyStormOnMySQL(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	db := modeltest.MySQL(t, clock)
	sqlDB, err := db.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(80)
	sqlDB.SetMaxIdleConns(80)
	store := model.NewOrderStore(db)
	no := "SIS000000000000000001"
	mustCreateOrder(t, store, newTestOrder(no, 101, "qs-1", 1))
	svc := service.NewOrderService(service.OrderDeps{Quotes: stormQuotes{}, Store: store, Gateway: stormGateway{}, Users: stormUsers{},
		Clock: clock, Log: slog.New(slog.DiscardHandler), Settings: service.OrderSettings{AppID: "wxapp", MchID: "1900000001"}})
	ev := service.TransactionEvent{EventID: "EV-STORM", EventType: "TRANSACTION.SUCCESS", Plaintext: []byte("{}"),
		Trade: service.Trade{AppID: "wxapp", MchID: "1900000001", OutTradeNo: service.OutTradeNo(no, 1), TransactionID: "4200STORM",
			State: service.TradeSuccess, TotalFen: 1000, Currency: "CNY", SuccessTime: clock.Now()}}

	const deliveries, workers = 1000, 64
	jobs := make(chan int)
	var failed atomic.Int32
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if err := svc.HandleTransaction(context.Background(), ev); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	for i := 0; i < deliveries; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d deliveries failed (first: %v), want every one acknowledged", n, firstErr.Load())
	}
	for _, c := range []struct {
		table, where string
		args         []any
		want         int
	}{
		{"batches", "out_trade_no = ? AND status = ? AND transaction_id = ?", []any{ev.Trade.OutTradeNo, "paid", "4200STORM"}, 1},
		{"payment_events", "", nil, 1},
		{"outbox", "kind = ?", []any{service.JobPostBatch}, 1},
		{"order_events", "type = ?", []any{"paid"}, 1},
		{"alerts", "", nil, 0},
	} {
		if got := countRows(t, db, c.table, c.where, c.args...); got != c.want {
			t.Errorf("%s rows=%d, want %d", c.table, got, c.want)
		}
	}
}
