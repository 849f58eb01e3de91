package service_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/shebao/sipay/service"
)

// CreateOrder prepays batch 1 before the order's one write, so the
// prepay_id goes in with the batch (docs/performance.md, "Order"). These
// tests pin what that order of steps must keep: the stored batch is the
// prepaid one, a trade whose order was refused is closed, and a trade that
// may belong to a stored order is never closed.

// scriptedStore lets a test decide what OrderStore.CreateOrder answers.
type scriptedStore struct {
	service.OrderStore
	mu     sync.Mutex
	create func(ctx context.Context, o *service.Order, call int) error
	calls  int
}

func (s *scriptedStore) CreateOrder(ctx context.Context, o *service.Order) error {
	s.mu.Lock()
	s.calls++
	call := s.calls
	s.mu.Unlock()
	return s.create(ctx, o, call)
}

// withStore returns e's service on a store answering CreateOrder by create.
func (e *orderEnv) withStore(create func(ctx context.Context, o *service.Order, call int) error) *service.OrderService {
	d := e.deps
	d.Store = &scriptedStore{OrderStore: e.store, create: create}
	return service.NewOrderService(d)
}

func TestCreateOrderStoresThePrepaidBatch(t *testing.T) {
	ctx := context.Background()
	e := newSQLiteOrderEnv(t)
	e.addQuote(t, "q1", 1, 1000)
	res, err := e.svc.CreateOrder(ctx, 1, "q1")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.gw.prepays) != 1 || e.gw.closeCount() != 0 {
		t.Fatalf("gateway: %d prepays, %d closes; want 1 and 0", len(e.gw.prepays), e.gw.closeCount())
	}
	p := e.gw.prepays[0]
	b := e.batch(t, res.Order.No, 1)
	if b.OutTradeNo != p.OutTradeNo || b.PrepayID != res.PayParams.PrepayID || b.PrepayID == "" || b.PrepayAt.IsZero() ||
		!b.ExpireAt.Equal(p.ExpireAt) || b.PayerOpenID != p.PayerOpenID || b.AmountFen != p.AmountFen {
		t.Fatalf("stored batch %+v, want the prepaid trade %+v with prepay_id %s", b, p, res.PayParams.PrepayID)
	}
}

func TestCreateOrderClosesTheTradeOfARefusedOrder(t *testing.T) {
	ctx := context.Background()
	t.Run("QuoteAlreadyOrdered", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		first := e.mustCreate(t, 1, "q1")
		_, err := e.svc.CreateOrder(ctx, 1, "q1")
		if service.ErrorCode(err) != service.CodeQuoteAlreadyOrdered {
			t.Fatalf("got %v, want %s", err, service.CodeQuoteAlreadyOrdered)
		}
		refused := e.gw.prepays[1].OutTradeNo
		if refused == first.Batches[0].OutTradeNo || len(e.gw.closes) != 1 || e.gw.closes[0] != refused {
			t.Fatalf("closed %q, want only the refused order's trade %s (the first order's is %s)", e.gw.closes, refused, first.Batches[0].OutTradeNo)
		}
		if tr, _ := e.gw.QueryTrade(ctx, first.Batches[0].OutTradeNo); tr.State != service.TradeNotPay {
			t.Fatalf("the first order's trade is %s, want it still payable", tr.State)
		}
	})
	t.Run("MonthAlreadyOrdered", func(t *testing.T) {
		e := newSQLiteOrderEnv(t)
		e.addQuote(t, "q1", 1, 1000)
		e.addQuote(t, "q2", 1, 1000) // the same person and month
		e.mustCreate(t, 1, "q1")
		_, err := e.svc.CreateOrder(ctx, 1, "q2")
		if service.ErrorCode(err) != service.CodeMonthAlreadyOrdered {
			t.Fatalf("got %v, want %s", err, service.CodeMonthAlreadyOrdered)
		}
		if refused := e.gw.prepays[1].OutTradeNo; len(e.gw.closes) != 1 || e.gw.closes[0] != refused {
			t.Fatalf("closed %q, want the refused order's trade %s", e.gw.closes, refused)
		}
		if n := count(t, e.db, "orders", ""); n != 1 {
			t.Fatalf("orders=%d, want 1", n)
		}
	})
}

// The one write committed, but its answer was lost and the store's second
// try found the quote taken: by this very order. That is a success.
func TestCreateOrderFindsItsOwnOrderAfterALostCommit(t *testing.T) {
	ctx := context.Background()
	e := newSQLiteOrderEnv(t)
	e.addQuote(t, "q1", 1, 1000)
	svc := e.withStore(func(ctx context.Context, o *service.Order, call int) error {
		if err := e.store.CreateOrder(ctx, o); err != nil || call > 1 {
			return err
		}
		return fmt.Errorf("create order: %w", service.ErrDuplicate)
	})
	res, err := svc.CreateOrder(ctx, 1, "q1")
	if err != nil {
		t.Fatalf("got %v, want the order", err)
	}
	if res.PayParams.PrepayID == "" || e.gw.closeCount() != 0 || len(e.gw.prepays) != 1 {
		t.Fatalf("pay params %+v, %d closes, %d prepays; want the prepaid trade kept", res.PayParams, e.gw.closeCount(), len(e.gw.prepays))
	}
	if b := e.batch(t, res.Order.No, 1); b.PrepayID != res.PayParams.PrepayID {
		t.Fatalf("stored prepay_id %q, answered %q", b.PrepayID, res.PayParams.PrepayID)
	}
}

// A failure that may have committed (a lost connection) closes nothing: the
// trade may be the stored order's. Unpaid, it expires at time_expire.
func TestCreateOrderKeepsTheTradeAfterAnAmbiguousFailure(t *testing.T) {
	ctx := context.Background()
	e := newSQLiteOrderEnv(t)
	e.addQuote(t, "q1", 1, 1000)
	svc := e.withStore(func(ctx context.Context, o *service.Order, call int) error {
		return errors.New("create order: invalid connection")
	})
	if _, err := svc.CreateOrder(ctx, 1, "q1"); err == nil {
		t.Fatal("got an order, want the store's error")
	}
	if len(e.gw.prepays) != 1 || e.gw.closeCount() != 0 {
		t.Fatalf("gateway: %d prepays, %d closes; want 1 and 0", len(e.gw.prepays), e.gw.closeCount())
	}
}

// The random order number was taken by another order: its trade number is
// that order's, so it is not closed; the order is stored under a new
// number and prepaid anew.
func TestCreateOrderPrepaysAnewUnderANewNumber(t *testing.T) {
	ctx := context.Background()
	e := newSQLiteOrderEnv(t)
	e.addQuote(t, "q1", 1, 1000)
	svc := e.withStore(func(ctx context.Context, o *service.Order, call int) error {
		if call == 1 {
			return fmt.Errorf("create order: %w", service.ErrDuplicate) // uk_orders_order_no
		}
		return e.store.CreateOrder(ctx, o)
	})
	res, err := svc.CreateOrder(ctx, 1, "q1")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.gw.prepays) != 2 || e.gw.closeCount() != 0 {
		t.Fatalf("gateway: %d prepays, %d closes; want 2 and 0", len(e.gw.prepays), e.gw.closeCount())
	}
	taken, fresh := e.gw.prepays[0].OutTradeNo, e.gw.prepays[1].OutTradeNo
	b := e.batch(t, res.Order.No, 1)
	if taken == fresh || b.OutTradeNo != fresh || b.PrepayID != res.PayParams.PrepayID || res.PayParams.PrepayID == "" {
		t.Fatalf("stored %s with prepay_id %q (answered %q); prepaid %s then %s", b.OutTradeNo, b.PrepayID, res.PayParams.PrepayID, taken, fresh)
	}
}
