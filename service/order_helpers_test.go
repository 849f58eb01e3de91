package service_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

const (
	testAppID = "wxapp000000000001"
	testMchID = "1900000001"
)

// orderGateway is an in-memory WeChat Pay: trades by out_trade_no.
type orderGateway struct {
	mu         sync.Mutex
	trades     map[string]*service.Trade
	prepays    []service.Prepay
	closes     []string
	queries    int
	n          int
	failPrepay error
	failQuery  error
}

func newOrderGateway() *orderGateway { return &orderGateway{trades: map[string]*service.Trade{}} }

func (g *orderGateway) Prepay(_ context.Context, p service.Prepay) (service.PayParams, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failPrepay != nil {
		return service.PayParams{}, g.failPrepay
	}
	g.prepays = append(g.prepays, p)
	if _, ok := g.trades[p.OutTradeNo]; !ok {
		g.trades[p.OutTradeNo] = &service.Trade{AppID: testAppID, MchID: testMchID, OutTradeNo: p.OutTradeNo,
			State: service.TradeNotPay, Attach: p.Attach, PayerOpenID: p.PayerOpenID, TotalFen: p.AmountFen, Currency: "CNY"}
	}
	g.n++
	id := fmt.Sprintf("wx-prepay-%d", g.n)
	return service.PayParams{PrepayID: id, AppID: testAppID, TimeStamp: "1700000000", NonceStr: "n", Package: "prepay_id=" + id,
		SignType: "RSA", PaySign: "sig"}, nil
}

func (g *orderGateway) PayParamsFor(prepayID string) (service.PayParams, error) {
	return service.PayParams{PrepayID: prepayID, AppID: testAppID, TimeStamp: "1700000001", NonceStr: "m",
		Package: "prepay_id=" + prepayID, SignType: "RSA", PaySign: "sig2"}, nil
}

func (g *orderGateway) QueryTrade(_ context.Context, otn string) (service.Trade, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.queries++
	if g.failQuery != nil {
		return service.Trade{}, g.failQuery
	}
	t, ok := g.trades[otn]
	if !ok {
		return service.Trade{}, fmt.Errorf("query %s: %w", otn, service.ErrTradeNotFound)
	}
	return *t, nil
}

func (g *orderGateway) CloseTrade(_ context.Context, otn string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.trades[otn]
	if !ok {
		return &service.GatewayError{Status: 404, Code: "ORDER_NOT_EXIST", Message: "订单不存在"}
	}
	if t.State == service.TradeSuccess {
		return &service.GatewayError{Status: 400, Code: "ORDERPAID", Message: "订单已支付"}
	}
	g.closes = append(g.closes, otn)
	t.State = service.TradeClosed
	return nil
}

func (g *orderGateway) CreateRefund(context.Context, service.RefundRequest) (service.RefundResult, error) {
	return service.RefundResult{}, fmt.Errorf("not implemented")
}

func (g *orderGateway) QueryRefund(context.Context, string) (service.RefundResult, error) {
	return service.RefundResult{}, fmt.Errorf("not implemented")
}

func (g *orderGateway) TradeBill(context.Context, time.Time) ([]service.BillRow, error) {
	return nil, fmt.Errorf("not implemented")
}

// pay makes the user pay otn at WeChat (no notification is sent).
func (g *orderGateway) pay(tb testing.TB, otn string, at time.Time) service.Trade {
	tb.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.trades[otn]
	if !ok {
		tb.Fatalf("pay %s: no trade at the fake gateway", otn)
	}
	t.State, t.TransactionID, t.SuccessTime = service.TradeSuccess, "42000"+otn[len(otn)-12:], at
	return *t
}

func (g *orderGateway) closeCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.closes)
}

// orderQuotes is a QuoteFinder over a map.
type orderQuotes struct {
	mu     sync.Mutex
	quotes map[string]*service.Quote
}

func (q *orderQuotes) FindQuote(_ context.Context, userID int64, id string) (*service.Quote, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	v, ok := q.quotes[id]
	if !ok || v.UserID != userID {
		return nil, service.Errorf(service.KindNotFound, "quote_not_found", "报价不存在")
	}
	c := *v
	return &c, nil
}

// orderUsers resolves users 1 and 2.
type orderUsers struct{}

func (orderUsers) FindUserByID(_ context.Context, id int64) (*service.User, error) {
	return &service.User{ID: id, OpenID: fmt.Sprintf("openid-%d", id)}, nil
}

// orderEnv is an OrderService on a real SQLite store and a fake gateway.
type orderEnv struct {
	svc    *service.OrderService
	deps   service.OrderDeps // what svc was built from
	store  *model.OrderStore
	db     *model.DB
	gw     *orderGateway
	clock  *service.ManualClock
	quotes *orderQuotes
}

var orderNow = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)

func newOrderEnv(tb testing.TB, db *model.DB, clock *service.ManualClock) *orderEnv {
	tb.Helper()
	e := &orderEnv{db: db, store: model.NewOrderStore(db), gw: newOrderGateway(), clock: clock,
		quotes: &orderQuotes{quotes: map[string]*service.Quote{}}}
	e.deps = service.OrderDeps{Quotes: e.quotes, Store: e.store, Gateway: e.gw, Users: orderUsers{}, Clock: clock,
		Log: slog.New(slog.DiscardHandler), Settings: service.OrderSettings{AppID: testAppID, MchID: testMchID}}
	e.svc = service.NewOrderService(e.deps)
	return e
}

func newSQLiteOrderEnv(tb testing.TB) *orderEnv {
	tb.Helper()
	clock := service.NewManualClock(orderNow)
	return newOrderEnv(tb, modeltest.SQLite(tb, clock), clock)
}

// addQuote stores a quote of userID split into batches of the given amounts.
func (e *orderEnv) addQuote(tb testing.TB, id string, userID int64, amounts ...service.Fen) *service.Quote {
	tb.Helper()
	q := &service.Quote{ID: id, UserID: userID, PersonID: 7, Region: "440300", CreatedAt: e.clock.Now(),
		ExpiresAt: e.clock.Now().Add(time.Hour)}
	for i, a := range amounts {
		m := fmt.Sprintf("2026-%02d", i+1)
		q.Batches = append(q.Batches, service.BatchPlan{Seq: i + 1, AmountFen: a, FromMonth: m, ToMonth: m})
		q.Lines = append(q.Lines, service.QuoteLine{Insurance: service.InsurancePension, Month: m, AmountFen: a})
		q.TotalFen += a
	}
	q.PayableFen = q.TotalFen
	e.quotes.mu.Lock()
	e.quotes.quotes[id] = q
	e.quotes.mu.Unlock()
	return q
}

func (e *orderEnv) mustCreate(tb testing.TB, userID int64, quoteID string) *service.Order {
	tb.Helper()
	res, err := e.svc.CreateOrder(context.Background(), userID, quoteID)
	if err != nil {
		tb.Fatalf("CreateOrder: %v", err)
	}
	return res.Order
}

func (e *orderEnv) batch(tb testing.TB, orderNo string, seq int) service.Batch {
	tb.Helper()
	o, err := e.store.FindOrder(context.Background(), orderNo)
	if err != nil {
		tb.Fatalf("FindOrder: %v", err)
	}
	for _, b := range o.Batches {
		if b.Seq == seq {
			return b
		}
	}
	tb.Fatalf("order %s has no batch %d", orderNo, seq)
	return service.Batch{}
}

// count returns the number of rows of table matching where.
func count(tb testing.TB, db *model.DB, table, where string, args ...any) int {
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

// successEvent is a verified TRANSACTION.SUCCESS for trade t.
func successEvent(id string, t service.Trade) service.TransactionEvent {
	return service.TransactionEvent{EventID: id, EventType: "TRANSACTION.SUCCESS", Trade: t, Plaintext: []byte(`{"out_trade_no":"` + t.OutTradeNo + `"}`)}
}
