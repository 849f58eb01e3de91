package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/paysim"
	"github.com/shebao/sipay/wxpay"
	"github.com/shebao/sipay/wxpay/wxpaytest"
)

// orderTestQuotes finds quotes of their owner.
type orderTestQuotes struct {
	mu sync.Mutex
	m  map[string]*service.Quote
}

func (q *orderTestQuotes) FindQuote(_ context.Context, userID int64, id string) (*service.Quote, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	v, ok := q.m[id]
	if !ok || v.UserID != userID {
		return nil, service.NotFound("报价不存在")
	}
	c := *v
	return &c, nil
}

type orderTestUsers struct{}

func (orderTestUsers) FindUserByID(_ context.Context, id int64) (*service.User, error) {
	return &service.User{ID: id, OpenID: fmt.Sprintf("openid-%d", id)}, nil
}

// slowOrders holds CreateOrder until release is closed (concurrency test).
type slowOrders struct {
	api.OrderService
	started chan struct{}
	release chan struct{}
}

func (s *slowOrders) CreateOrder(ctx context.Context, userID int64, quoteID string) (*service.PayResult, error) {
	close(s.started)
	<-s.release
	return s.OrderService.CreateOrder(ctx, userID, quoteID)
}

// orderAPI is the real router over the order service, a SQLite store, the
// WeChat Pay simulator (which delivers notifications back to the router)
// and an in-process Redis.
type orderAPI struct {
	h      http.Handler
	db     *model.DB
	store  *model.OrderStore
	svc    *service.OrderService
	sim    *paysim.Sim
	keys   *wxpay.DevKeys
	clock  *service.ManualClock
	quotes *orderTestQuotes
	deps   api.Deps
}

// lostPrepays is the simulator's WeChat Pay whose first n prepay replies are
// lost on the way back: the trade exists at WeChat, we see a timeout.
type lostPrepays struct {
	*wxpay.Client
	mu sync.Mutex
	n  int
}

func (g *lostPrepays) Prepay(ctx context.Context, p service.Prepay) (service.PayParams, error) {
	pp, err := g.Client.Prepay(ctx, p)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err == nil && g.n > 0 {
		g.n--
		return service.PayParams{}, context.DeadlineExceeded
	}
	return pp, err
}

func newOrderAPI(t *testing.T, wrap func(api.OrderService) api.OrderService) *orderAPI {
	t.Helper()
	return newOrderAPILosing(t, wrap, 0)
}

// newOrderAPILosing is newOrderAPI whose first lost prepay replies are lost.
func newOrderAPILosing(t *testing.T, wrap func(api.OrderService) api.OrderService, lost int) *orderAPI {
	t.Helper()
	clock := service.NewManualClock(time.Now().UTC().Truncate(time.Second))
	db := modeltest.SQLite(t, clock)
	a := &orderAPI{db: db, store: model.NewOrderStore(db), clock: clock, keys: wxpaytest.Keys(t),
		quotes: &orderTestQuotes{m: map[string]*service.Quote{}}}
	var mu sync.Mutex
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := a.h
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	sim, client, parser, _ := wxpaytest.NewWithNotifyURL(t, clock, front.URL+"/api/v1/wxpay/notify")
	a.sim = sim
	a.svc = service.NewOrderService(service.OrderDeps{Quotes: a.quotes, Store: a.store, Gateway: &lostPrepays{Client: client, n: lost},
		Users: orderTestUsers{}, Clock: clock, Log: slog.New(slog.DiscardHandler), Settings: service.OrderSettings{AppID: a.keys.AppID, MchID: a.keys.MchID}})
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	var orders api.OrderService = a.svc
	if wrap != nil {
		orders = wrap(orders)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a.deps = api.Deps{Logger: log, Auth: quoteTestAuth{}, Orders: orders, Idempotency: cache.NewIdempotencyStore(rdb),
		Notify: service.NewNotifyService(service.NotifyDeps{Parser: parser, Orders: a.svc,
			Dedupe: cache.NewSeenStore(rdb, "wxevent:", 48*time.Hour), Log: log})}
	srv := api.NewServer(a.deps)
	mu.Lock()
	a.h = srv
	mu.Unlock()
	return a
}

func (a *orderAPI) addQuote(id string, userID int64, amounts ...service.Fen) {
	// Each quote is for its own person: one open order per person and month.
	a.quotes.mu.Lock()
	person := int64(42 + len(a.quotes.m))
	a.quotes.mu.Unlock()
	q := &service.Quote{ID: id, UserID: userID, PersonID: person, Region: "440300", CreatedAt: a.clock.Now(), ExpiresAt: a.clock.Now().Add(time.Hour)}
	for i, amt := range amounts {
		m := fmt.Sprintf("2026-%02d", i+1)
		q.Batches = append(q.Batches, service.BatchPlan{Seq: i + 1, AmountFen: amt, FromMonth: m, ToMonth: m})
		q.Lines = append(q.Lines, service.QuoteLine{Insurance: service.InsurancePension, Month: m, AmountFen: amt, BaseFen: amt * 5, RateBP: 2000})
		q.TotalFen += amt
	}
	q.PayableFen = q.TotalFen
	a.quotes.mu.Lock()
	a.quotes.m[id] = q
	a.quotes.mu.Unlock()
}

func (a *orderAPI) do(t *testing.T, method, path, token string, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, req)
	return w
}

type createdOrder struct {
	OrderNo   string `json:"order_no"`
	AmountFen int64  `json:"amount_fen"`
	Status    string `json:"status"`
	Batches   []struct {
		Seq        int    `json:"seq"`
		OutTradeNo string `json:"out_trade_no"`
		AmountFen  int64  `json:"amount_fen"`
		Status     string `json:"status"`
	} `json:"batches"`
	PayParams service.PayParams `json:"pay_params"`
}

func decodeJSON[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", w.Body.String(), err)
	}
	return v
}

func orderErrCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(w.Body.Bytes(), &e)
	return e.Error.Code
}

func (a *orderAPI) create(t *testing.T, token, quoteID, key string) createdOrder {
	t.Helper()
	w := a.do(t, "POST", "/api/v1/orders", token, `{"quote_id":"`+quoteID+`"}`, "Idempotency-Key", key)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: status=%d body=%s, want 201", w.Code, w.Body)
	}
	return decodeJSON[createdOrder](t, w)
}

func TestOrderAPI_CreateAndIdempotency(t *testing.T) {
	t.Run("CreatedWithPayParams", func(t *testing.T) {
		a := newOrderAPI(t, nil)
		a.addQuote("q1", 1, 150000, 50000)
		o := a.create(t, "t1", "q1", "k-1")
		if o.AmountFen != 200000 || o.Status != "pending_payment" || len(o.Batches) != 2 || o.Batches[0].AmountFen != 150000 {
			t.Fatalf("order=%+v", o)
		}
		p := o.PayParams
		if p.AppID != a.keys.AppID || p.SignType != "RSA" || !strings.HasPrefix(p.Package, "prepay_id=") || p.PaySign == "" {
			t.Fatalf("pay params=%+v", p)
		}
		if err := wxpay.VerifyPaySign(&a.keys.MerchantKey.PublicKey, p); err != nil {
			t.Fatalf("paySign does not verify: %v", err)
		}
	})

	t.Run("MissingKeyRefused", func(t *testing.T) {
		a := newOrderAPI(t, nil)
		a.addQuote("q1", 1, 1000)
		for _, key := range []string{"", strings.Repeat("k", 256)} {
			w := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q1"}`, "Idempotency-Key", key)
			if w.Code != http.StatusBadRequest || orderErrCode(t, w) != "idempotency_key_required" {
				t.Fatalf("key len %d: status=%d code=%q, want 400 idempotency_key_required", len(key), w.Code, orderErrCode(t, w))
			}
		}
		if n := countOrders(t, a); n != 0 {
			t.Fatalf("orders=%d, want 0", n)
		}
	})

	t.Run("SameKeyReplaysFirstReply", func(t *testing.T) {
		a := newOrderAPI(t, nil)
		a.addQuote("q1", 1, 1000)
		first := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q1"}`, "Idempotency-Key", "k-1")
		again := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q1"}`, "Idempotency-Key", "k-1")
		if first.Code != http.StatusCreated || again.Code != http.StatusCreated {
			t.Fatalf("status=%d then %d, want 201 twice", first.Code, again.Code)
		}
		if again.Header().Get("Idempotent-Replayed") != "true" || first.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("Idempotent-Replayed first=%q again=%q", first.Header().Get("Idempotent-Replayed"), again.Header().Get("Idempotent-Replayed"))
		}
		if !bytes.Equal(first.Body.Bytes(), again.Body.Bytes()) {
			t.Fatalf("replayed body differs:\n%s\n%s", first.Body, again.Body)
		}
		if n := countOrders(t, a); n != 1 {
			t.Fatalf("orders=%d, want 1", n)
		}
		// Another user's identical key is another key.
		a.addQuote("q2", 2, 1000)
		if w := a.do(t, "POST", "/api/v1/orders", "t2", `{"quote_id":"q2"}`, "Idempotency-Key", "k-1"); w.Code != http.StatusCreated ||
			w.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("user 2 same key: status=%d replayed=%q, want a fresh 201", w.Code, w.Header().Get("Idempotent-Replayed"))
		}
	})

	t.Run("SameKeyOtherBodyMismatch", func(t *testing.T) {
		a := newOrderAPI(t, nil)
		a.addQuote("q1", 1, 1000)
		a.addQuote("q2", 1, 1000)
		a.create(t, "t1", "q1", "k-1")
		w := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q2"}`, "Idempotency-Key", "k-1")
		if w.Code != http.StatusUnprocessableEntity || orderErrCode(t, w) != "idempotency_mismatch" {
			t.Fatalf("status=%d code=%q, want 422 idempotency_mismatch", w.Code, orderErrCode(t, w))
		}
		if n := countOrders(t, a); n != 1 {
			t.Fatalf("orders=%d, want 1", n)
		}
	})

	t.Run("ConcurrentSameKeyConflicts", func(t *testing.T) {
		slow := &slowOrders{started: make(chan struct{}), release: make(chan struct{})}
		a := newOrderAPI(t, func(o api.OrderService) api.OrderService { slow.OrderService = o; return slow })
		a.addQuote("q1", 1, 1000)
		done := make(chan *httptest.ResponseRecorder)
		go func() {
			req := httptest.NewRequest("POST", "/api/v1/orders", strings.NewReader(`{"quote_id":"q1"}`))
			req.Header.Set("Authorization", "Bearer t1")
			req.Header.Set("Idempotency-Key", "k-1")
			w := httptest.NewRecorder()
			a.h.ServeHTTP(w, req)
			done <- w
		}()
		<-slow.started
		w := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q1"}`, "Idempotency-Key", "k-1")
		if w.Code != http.StatusConflict || orderErrCode(t, w) != "idempotency_in_progress" {
			t.Fatalf("status=%d code=%q, want 409 idempotency_in_progress", w.Code, orderErrCode(t, w))
		}
		close(slow.release)
		if first := <-done; first.Code != http.StatusCreated {
			t.Fatalf("first: status=%d, want 201", first.Code)
		}
		if again := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q1"}`, "Idempotency-Key", "k-1"); again.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("after the first finished: replayed=%q, want true", again.Header().Get("Idempotent-Replayed"))
		}
	})

	t.Run("PrepayFailedRetrySameKeyResumesTheSameOrder", func(t *testing.T) {
		a := newOrderAPILosing(t, nil, 1) // the first prepay reaches WeChat, its reply is lost
		a.addQuote("q1", 1, 1000)
		first := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q1"}`, "Idempotency-Key", "k-1")
		if first.Code != http.StatusServiceUnavailable || orderErrCode(t, first) != service.CodePrepayFailed {
			t.Fatalf("first: status=%d body=%s, want 503 prepay_failed", first.Code, first.Body)
		}
		again := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q1"}`, "Idempotency-Key", "k-1")
		if again.Code != http.StatusCreated || again.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry: status=%d body=%s, want 201 resuming the order", again.Code, again.Body)
		}
		o := decodeJSON[createdOrder](t, again)
		if err := wxpay.VerifyPaySign(&a.keys.MerchantKey.PublicKey, o.PayParams); err != nil || !strings.HasPrefix(o.PayParams.Package, "prepay_id=") {
			t.Fatalf("pay params %+v: %v", o.PayParams, err)
		}
		if n := countOrders(t, a); n != 1 {
			t.Fatalf("orders=%d, want 1", n)
		}
		// The resumed prepay is what the batch holds, so a third try replays it.
		third := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q1"}`, "Idempotency-Key", "k-1")
		if third.Code != http.StatusCreated || decodeJSON[createdOrder](t, third).PayParams.Package != o.PayParams.Package {
			t.Fatalf("third: status=%d body=%s, want 201 with %s", third.Code, third.Body, o.PayParams.Package)
		}
		// Past time_expire WeChat would refuse the payment, and time_expire
		// cannot be moved: the retry says so instead of stale pay_params.
		a.clock.Advance(31 * time.Minute)
		late := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q1"}`, "Idempotency-Key", "k-1")
		if late.Code != http.StatusUnprocessableEntity || orderErrCode(t, late) != service.CodeBatchExpired {
			t.Fatalf("after time_expire: status=%d body=%s, want 422 batch_expired", late.Code, late.Body)
		}
	})

	t.Run("ReplayPastTimeExpireIsRefusedNotStalePayParams", func(t *testing.T) {
		a := newOrderAPI(t, nil)
		a.addQuote("q1", 1, 1000)
		first := a.create(t, "t1", "q1", "k-1")
		a.clock.Advance(20 * time.Minute)
		again := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q1"}`, "Idempotency-Key", "k-1")
		if again.Code != http.StatusCreated || decodeJSON[createdOrder](t, again).PayParams.Package != first.PayParams.Package {
			t.Fatalf("within time_expire: status=%d body=%s, want the first prepay again", again.Code, again.Body)
		}
		a.clock.Advance(10 * time.Minute)
		late := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q1"}`, "Idempotency-Key", "k-1")
		if late.Code != http.StatusUnprocessableEntity || orderErrCode(t, late) != service.CodeBatchExpired || late.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("past time_expire: status=%d body=%s, want 422 batch_expired", late.Code, late.Body)
		}
	})

	t.Run("NewKeySameQuoteConflictNamesOrder", func(t *testing.T) {
		a := newOrderAPI(t, nil)
		a.addQuote("q1", 1, 1000)
		o := a.create(t, "t1", "q1", "k-1")
		w := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q1"}`, "Idempotency-Key", "k-2")
		if w.Code != http.StatusConflict || orderErrCode(t, w) != service.CodeQuoteAlreadyOrdered || !strings.Contains(w.Body.String(), o.OrderNo) {
			t.Fatalf("status=%d body=%s, want 409 naming %s", w.Code, w.Body, o.OrderNo)
		}
	})
}

func countOrders(t *testing.T, a *orderAPI) int {
	t.Helper()
	var n int64
	a.db.Raw("SELECT COUNT(*) FROM orders").Scan(&n)
	return int(n)
}

func TestOrderAPI_OwnerOnly(t *testing.T) {
	a := newOrderAPI(t, nil)
	a.addQuote("q1", 1, 1000)
	o := a.create(t, "t1", "q1", "k-1")
	base := "/api/v1/orders/" + o.OrderNo
	for _, c := range []struct{ method, path string }{
		{"GET", base},
		{"POST", base + "/batches/1/pay"},
		{"POST", base + "/cancel"},
	} {
		if w := a.do(t, c.method, c.path, "t2", ""); w.Code != http.StatusNotFound {
			t.Errorf("user 2 %s %s: status=%d, want 404", c.method, c.path, w.Code)
		}
	}
	if w := a.do(t, "GET", "/api/v1/orders", "t2", ""); !strings.Contains(w.Body.String(), `"total":0`) {
		t.Errorf("user 2 list: %s, want empty", w.Body)
	}
	got := decodeJSON[struct {
		Status   string `json:"status"`
		Lines    []any  `json:"lines"`
		Timeline []struct {
			Type string `json:"type"`
		} `json:"timeline"`
	}](t, a.do(t, "GET", base, "t1", ""))
	if got.Status != "pending_payment" || len(got.Lines) != 1 || len(got.Timeline) == 0 || got.Timeline[0].Type != "created" {
		t.Fatalf("owner detail=%+v", got)
	}
	if w := a.do(t, "GET", "/api/v1/orders?page=1&page_size=10", "t1", ""); !strings.Contains(w.Body.String(), o.OrderNo) {
		t.Fatalf("owner list: %s, want %s", w.Body, o.OrderNo)
	}
	if w := a.do(t, "POST", base+"/cancel", "t1", ""); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"fully_cancelled":true`) {
		t.Fatalf("owner cancel: status=%d body=%s", w.Code, w.Body)
	}
}

func TestOrderAPI_PaidThroughSimulatorNotification(t *testing.T) {
	a := newOrderAPI(t, nil)
	a.sim.SetNotifyBehavior(paysim.NotifyBehavior{Duplicates: 3, Concurrent: true})
	a.addQuote("q1", 1, 1000)
	o := a.create(t, "t1", "q1", "k-1")
	if _, err := a.sim.RequestPayment(o.PayParams); err != nil {
		t.Fatalf("RequestPayment: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := a.sim.WaitDelivery(ctx, "TRANSACTION.SUCCESS", o.Batches[0].OutTradeNo)
	if err != nil || !d.Acked {
		t.Fatalf("delivery=%+v err=%v, want acked", d, err)
	}
	b := batchRow(t, a, o.Batches[0].OutTradeNo)
	if b.Status != service.StatusPaid {
		t.Fatalf("status=%s, want paid", b.Status)
	}
	if n := countWhere(t, a, "outbox", ""); n != 1 {
		t.Fatalf("outbox=%d, want 1", n)
	}
}

func batchRow(t *testing.T, a *orderAPI, otn string) service.Batch {
	t.Helper()
	no := otn[:strings.LastIndex(otn, "_")]
	o, err := a.store.FindOrder(context.Background(), no)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range o.Batches {
		if b.OutTradeNo == otn {
			return b
		}
	}
	t.Fatalf("no batch %s", otn)
	return service.Batch{}
}

func countWhere(t *testing.T, a *orderAPI, table, where string, args ...any) int {
	t.Helper()
	var n int64
	q := "SELECT COUNT(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	if err := a.db.Raw(q, args...).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// transaction is the decrypted resource of a TRANSACTION.SUCCESS.
func (a *orderAPI) transaction(otn string, total int64) map[string]any {
	return map[string]any{
		"appid": a.keys.AppID, "mchid": a.keys.MchID, "out_trade_no": otn, "transaction_id": "4200" + strings.ReplaceAll(otn[len(otn)-8:], "_", "0"),
		"trade_type": "JSAPI", "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
		"success_time": a.clock.Now().In(service.Shanghai).Format(time.RFC3339),
		"payer":        map[string]any{"openid": "openid-1"},
		"amount":       map[string]any{"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"},
	}
}

func (a *orderAPI) sign(t *testing.T, resource any, ts time.Time) (http.Header, []byte) {
	t.Helper()
	h, body, err := wxpay.SignNotification("TRANSACTION.SUCCESS", resource, "transaction", a.keys.PlatformKey, a.keys.PublicKeyID, a.keys.APIv3Key, ts)
	if err != nil {
		t.Fatal(err)
	}
	return h, body
}

func (a *orderAPI) notify(t *testing.T, h http.Header, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/v1/wxpay/notify", bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, req)
	return w
}

// fakeParser returns a fixed result (no signatures: for the reply mapping).
type fakeParser struct {
	ev  service.PayEvent
	err error
}

func (p fakeParser) Parse(http.Header, []byte) (service.PayEvent, error) { return p.ev, p.err }

func TestOrderAPI_Notify(t *testing.T) {
	a := newOrderAPI(t, nil)
	a.addQuote("q1", 1, 1000)
	pendingOrder := func(t *testing.T, quoteID, key string) string {
		a.addQuote(quoteID, 1, 1000)
		return a.create(t, "t1", quoteID, key).Batches[0].OutTradeNo
	}
	resign := func(h http.Header, body []byte) {
		sig, err := utils.SignSHA256WithRSA(h.Get("Wechatpay-Timestamp")+"\n"+h.Get("Wechatpay-Nonce")+"\n"+string(body)+"\n", a.keys.PlatformKey)
		if err != nil {
			t.Fatal(err)
		}
		h.Set("Wechatpay-Signature", sig)
	}
	unchanged := func(t *testing.T, otn string) {
		t.Helper()
		if b := batchRow(t, a, otn); b.Status != service.StatusPendingPayment || b.TransactionID != "" {
			t.Fatalf("batch changed: %+v", b)
		}
		if n := countWhere(t, a, "outbox", "ref = ?", otn); n != 0 {
			t.Fatalf("outbox rows for %s=%d, want 0", otn, n)
		}
		// Mismatches keep the raw event for audit; refusals before
		// verification keep nothing.
		wantRaw := 0
		if strings.Contains(t.Name(), "Mismatch") {
			wantRaw = 1
		}
		if n := countWhere(t, a, "payment_events", "out_trade_no = ?", otn); n != wantRaw {
			t.Fatalf("raw events for %s=%d, want %d", otn, n, wantRaw)
		}
	}

	t.Run("ValidThenDuplicate204", func(t *testing.T) {
		otn := pendingOrder(t, "qv", "kv")
		h, body := a.sign(t, a.transaction(otn, 1000), a.clock.Now())
		for i := 0; i < 2; i++ {
			if w := a.notify(t, h, body); w.Code != http.StatusNoContent || w.Body.Len() != 0 {
				t.Fatalf("delivery %d: status=%d body=%q, want 204 empty", i, w.Code, w.Body)
			}
		}
		if b := batchRow(t, a, otn); b.Status != service.StatusPaid {
			t.Fatalf("status=%s, want paid", b.Status)
		}
		if n := countWhere(t, a, "order_events", "type = ? AND order_no = ?", "paid", otn[:len(otn)-3]); n != 1 {
			t.Fatalf("paid events=%d, want 1", n)
		}
		// A fresh signature over a new event id for the same payment is
		// still a duplicate, decided by the database.
		h2, body2 := a.sign(t, a.transaction(otn, 1000), a.clock.Now())
		if w := a.notify(t, h2, body2); w.Code != http.StatusNoContent {
			t.Fatalf("re-sent payment: status=%d, want 204", w.Code)
		}
		if n := countWhere(t, a, "outbox", "ref = ?", otn); n != 1 {
			t.Fatalf("outbox=%d, want 1", n)
		}
	})

	refused := []struct {
		name   string
		status int
		make   func(otn string) (http.Header, []byte)
	}{
		{"ForgedSignature401", http.StatusUnauthorized, func(otn string) (http.Header, []byte) {
			h, b, _ := wxpay.SignNotification("TRANSACTION.SUCCESS", a.transaction(otn, 1000), "transaction", a.keys.MerchantKey, a.keys.PublicKeyID, a.keys.APIv3Key, a.clock.Now())
			return h, b
		}},
		{"TamperedCiphertext401", http.StatusUnauthorized, func(otn string) (http.Header, []byte) {
			h, b := a.sign(t, a.transaction(otn, 1000), a.clock.Now())
			var env map[string]any
			json.Unmarshal(b, &env)
			r := env["resource"].(map[string]any)
			ct, _ := base64.StdEncoding.DecodeString(r["ciphertext"].(string))
			ct[2] ^= 1
			r["ciphertext"] = base64.StdEncoding.EncodeToString(ct)
			b, _ = json.Marshal(env)
			resign(h, b) // even correctly signed, it does not decrypt
			return h, b
		}},
		{"BodyChangedAfterSigning401", http.StatusUnauthorized, func(otn string) (http.Header, []byte) {
			h, b := a.sign(t, a.transaction(otn, 1000), a.clock.Now())
			return h, bytes.Replace(b, []byte("TRANSACTION.SUCCESS"), []byte("TRANSACTION.SUCCESs"), 1)
		}},
		{"StaleTimestamp401", http.StatusUnauthorized, func(otn string) (http.Header, []byte) {
			return a.sign(t, a.transaction(otn, 1000), a.clock.Now().Add(-10*time.Minute))
		}},
		{"SignTestProbe401", http.StatusUnauthorized, func(otn string) (http.Header, []byte) {
			h, b := a.sign(t, a.transaction(otn, 1000), a.clock.Now())
			h.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature"))
			return h, b
		}},
		{"WrongSerial401", http.StatusUnauthorized, func(otn string) (http.Header, []byte) {
			h, b := a.sign(t, a.transaction(otn, 1000), a.clock.Now())
			h.Set("Wechatpay-Serial", "PUB_KEY_ID_0000000000000000000000000000000000")
			return h, b
		}},
		{"Malformed400", http.StatusBadRequest, func(otn string) (http.Header, []byte) {
			b := []byte(`{"id":"EV-x","event_type":"TRANSACTION.SUCCESS","resource":"nope"}`)
			h, _ := a.sign(t, a.transaction(otn, 1000), a.clock.Now())
			resign(h, b)
			return h, b
		}},
		{"AmountMismatch400", http.StatusBadRequest, func(otn string) (http.Header, []byte) {
			return a.sign(t, a.transaction(otn, 999), a.clock.Now())
		}},
		{"AppIDMismatch400", http.StatusBadRequest, func(otn string) (http.Header, []byte) {
			tr := a.transaction(otn, 1000)
			tr["appid"] = "wx0000000000000bad"
			return a.sign(t, tr, a.clock.Now())
		}},
		{"MchIDMismatch400", http.StatusBadRequest, func(otn string) (http.Header, []byte) {
			tr := a.transaction(otn, 1000)
			tr["mchid"] = "1999999999"
			return a.sign(t, tr, a.clock.Now())
		}},
	}
	for i, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			otn := pendingOrder(t, fmt.Sprintf("qr%d", i), fmt.Sprintf("kr%d", i))
			alertsBefore := countWhere(t, a, "alerts", "")
			h, b := c.make(otn)
			w := a.notify(t, h, b)
			if w.Code != c.status {
				t.Fatalf("status=%d body=%s, want %d", w.Code, w.Body, c.status)
			}
			if !strings.Contains(w.Body.String(), `"code":"FAIL"`) {
				t.Fatalf("body=%s, want WeChat's FAIL format", w.Body)
			}
			unchanged(t, otn)
			wantAlerts := 0
			if strings.Contains(c.name, "Mismatch") {
				wantAlerts = 1
			}
			if got := countWhere(t, a, "alerts", "") - alertsBefore; got != wantAlerts {
				t.Fatalf("new alerts=%d, want %d", got, wantAlerts)
			}
		})
	}

	t.Run("UnknownOutTradeNo204Alerted", func(t *testing.T) {
		h, body := a.sign(t, a.transaction("OTHERSYS000000001_01", 1000), a.clock.Now())
		if w := a.notify(t, h, body); w.Code != http.StatusNoContent {
			t.Fatalf("status=%d body=%s, want 204", w.Code, w.Body)
		}
		if n := countWhere(t, a, "alerts", "kind = ? AND ref = ?", service.AlertUnknownTrade, "OTHERSYS000000001_01"); n != 1 {
			t.Fatalf("alerts=%d, want 1", n)
		}
	})

	t.Run("RefundWithoutHandler500", func(t *testing.T) {
		d := a.deps
		d.Notify = service.NewNotifyService(service.NotifyDeps{Parser: fakeParser{ev: service.RefundEvent{EventID: "EV-r"}},
			Orders: a.svc, Log: d.Logger})
		srv := api.NewServer(d)
		req := httptest.NewRequest("POST", "/api/v1/wxpay/notify", strings.NewReader("{}"))
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), `"FAIL"`) {
			t.Fatalf("status=%d body=%s, want 500 FAIL", w.Code, w.Body)
		}
	})
}

// A second unpaid order for the same person, insurance and month gets 409
// month_already_ordered naming the open order (the review created two for
// Beijing 2026-11).
func TestOrderAPI_SecondOrderForTheSameMonthIsRefused(t *testing.T) {
	a := newOrderAPI(t, nil)
	a.addQuote("q1", 1, 1000)
	a.addQuote("q2", 1, 1000)
	a.quotes.mu.Lock()
	a.quotes.m["q2"].PersonID = a.quotes.m["q1"].PersonID
	a.quotes.mu.Unlock()
	first := a.create(t, "t1", "q1", "k-1")
	w := a.do(t, "POST", "/api/v1/orders", "t1", `{"quote_id":"q2"}`, "Idempotency-Key", "k-2")
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), `"month_already_ordered"`) || !strings.Contains(w.Body.String(), first.OrderNo) {
		t.Fatalf("second order: status=%d body=%s, want 409 month_already_ordered naming %s", w.Code, w.Body, first.OrderNo)
	}
	if n := countOrders(t, a); n != 1 {
		t.Fatalf("orders=%d, want 1", n)
	}
}
