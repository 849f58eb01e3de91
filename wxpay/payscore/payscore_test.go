package payscore_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/paysim"
	"github.com/shebao/sipay/wxpay"
	"github.com/shebao/sipay/wxpay/payscore"
	"github.com/shebao/sipay/wxpay/wxpaytest"
)

const (
	serviceID = "00004000000000170000000000000009"
	v2Key     = "0123456789abcdef0123456789abcdef"
)

var now0 = time.Date(2026, 3, 5, 10, 0, 0, 0, service.Shanghai)

type env struct {
	clock  *service.ManualClock
	sim    *paysim.Sim
	srv    *httptest.Server
	client *payscore.Client
	mu     sync.Mutex
	events []service.PayScoreEvent
	errs   []error
}

// newEnv starts the WeChat Pay simulator with Pay Score, a notify endpoint
// that parses with the real notify parser, and a Pay Score client over the
// real wxpay client's core.Client.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clock: service.NewManualClock(now0)}
	var parser *wxpay.NotifyParser
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := parser.Parse(r.Header, body)
		e.mu.Lock()
		defer e.mu.Unlock()
		if err != nil {
			e.errs = append(e.errs, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		e.events = append(e.events, ev.(service.PayScoreEvent))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rs.Close)
	var wc *wxpay.Client
	e.sim, wc, parser, e.srv = wxpaytest.NewWithNotifyURL(t, e.clock, rs.URL+"/notify", func(c *paysim.Config) {
		c.PayScoreServiceID, c.PayScoreAPIv2Key = serviceID, v2Key
	})
	k := wxpaytest.Keys(t)
	var err error
	e.client, err = payscore.New(wc.API(), payscore.Config{AppID: k.AppID, MchID: k.MchID, ServiceID: serviceID,
		NotifyURL: rs.URL + "/notify", APIv2Key: v2Key}, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) wait(t *testing.T, event, key string) service.PayScoreEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.sim.WaitDelivery(ctx, event, key); err != nil {
		t.Fatalf("WaitDelivery(%s, %s): %v", event, key, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.events {
		if ev.EventType == event && ev.Order.OutOrderNo == key {
			return ev
		}
	}
	t.Fatalf("no verified %s for %s (parse errors %v)", event, key, e.errs)
	return service.PayScoreEvent{}
}

func TestServiceOrderIsCreatedConfirmedCompletedAndCollected(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const no = "CPSI2026030500000000000001_01"
	req := service.ServiceOrderRequest{OutOrderNo: no, Introduction: "社保信用付", ItemName: "社保缴费", AmountFen: 139620, OpenID: "o-user"}
	so, err := e.client.CreateServiceOrder(ctx, req)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if so.State != service.ServiceCreated || so.Package == "" || so.RiskFundFen != 139620 || so.ServiceID != serviceID {
		t.Fatalf("create answer: %+v", so)
	}
	// Re-entrant: the same parameters answer the same order.
	again, err := e.client.CreateServiceOrder(ctx, req)
	if err != nil || again.OrderID != so.OrderID {
		t.Fatalf("repeat create: %+v, %v; want order %s", again, err, so.OrderID)
	}
	// Completing before the user confirmed is refused.
	if _, err := e.client.CompleteServiceOrder(ctx, no, 139620, "社保缴费", e.clock.Now()); err == nil {
		t.Fatal("complete before confirmation succeeded")
	}

	cp, err := e.client.ConfirmParams(again.Package)
	if err != nil || cp.BusinessType != "wxpayScoreUse" || cp.ExtraData["sign_type"] != "HMAC-SHA256" {
		t.Fatalf("confirm params: %+v, %v", cp, err)
	}
	// A tampered extraData is refused by the Pay Score page.
	bad := map[string]string{}
	for k, v := range cp.ExtraData {
		bad[k] = v
	}
	bad["timestamp"] = "1"
	if _, err := e.sim.ConfirmServiceOrder(bad); !errors.Is(err, paysim.ErrBadExtraData) {
		t.Fatalf("tampered extraData: got %v, want ErrBadExtraData", err)
	}
	if _, err := e.sim.ConfirmServiceOrder(cp.ExtraData); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	ev := e.wait(t, service.EventPayScoreConfirm, no)
	if ev.Order.State != service.ServiceDoing || ev.Order.OrderID != so.OrderID || ev.Order.RiskFundFen != 139620 {
		t.Fatalf("USER_CONFIRM resource: %+v", ev.Order)
	}

	done, err := e.client.CompleteServiceOrder(ctx, no, 139620, "社保缴费", e.clock.Now())
	if err != nil || !done.Completed() || done.TotalFen != 139620 {
		t.Fatalf("complete: %+v, %v", done, err)
	}
	paid := e.wait(t, service.EventPayScorePaid, no)
	if paid.Order.Collection.State != service.CollectionPaid || paid.Order.Collection.PaidFen != 139620 ||
		paid.Order.Collection.TransactionID == "" || !paid.Order.Collection.PaidAt.Equal(now0.Truncate(time.Second)) {
		t.Fatalf("USER_PAID resource: %+v", paid.Order.Collection)
	}
	q, err := e.client.QueryServiceOrder(ctx, no)
	if err != nil || q.State != service.ServiceDone || q.Collection.TransactionID != paid.Order.Collection.TransactionID {
		t.Fatalf("query: %+v, %v", q, err)
	}
	// A second completion is refused; the order was completed once.
	if _, err := e.client.CompleteServiceOrder(ctx, no, 139620, "社保缴费", e.clock.Now()); err == nil {
		t.Fatal("second complete succeeded")
	}
	if r, _ := e.sim.ServiceOrder(no); r.Completes != 1 || r.CollectedFen != 139620 {
		t.Fatalf("ledger: %+v; want 1 completion, 139620 collected", r)
	}
	// The collection is in the trade bill of the day.
	rows, err := wxpayClient(t, e).TradeBill(ctx, now0)
	if err != nil || len(rows) != 1 || rows[0].TransactionID != q.Collection.TransactionID || rows[0].TotalFen != 139620 {
		t.Fatalf("bill: %+v, %v", rows, err)
	}
}

func wxpayClient(t *testing.T, e *env) *wxpay.Client {
	t.Helper()
	c, err := wxpay.New(wxpaytest.ClientConfig(wxpaytest.Keys(t), e.srv.URL, "https://merchant.example.com/notify"), e.clock)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUnknownServiceOrderAndCancel(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.client.QueryServiceOrder(ctx, "CPnope"); !errors.Is(err, service.ErrServiceOrderNotFound) {
		t.Fatalf("query unknown: got %v, want ErrServiceOrderNotFound", err)
	}
	const no = "CPSI2026030500000000000002_01"
	if _, err := e.client.CreateServiceOrder(ctx, service.ServiceOrderRequest{OutOrderNo: no, Introduction: "社保信用付",
		ItemName: "社保缴费", AmountFen: 5000, OpenID: "o-user"}); err != nil {
		t.Fatal(err)
	}
	if err := e.client.CancelServiceOrder(ctx, no, "用户取消"); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if q, err := e.client.QueryServiceOrder(ctx, no); err != nil || q.State != service.ServiceRevoked {
		t.Fatalf("after cancel: %+v, %v", q, err)
	}
}

// The simulator checks our merchant signature as WeChat Pay does: a
// request signed with another key is refused 401 SIGN_ERROR and changes
// nothing.
func TestSimulatorRefusesABadMerchantSignature(t *testing.T) {
	e := newEnv(t)
	k := wxpaytest.Keys(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cfg := wxpaytest.ClientConfig(k, e.srv.URL, "https://merchant.example.com/notify")
	cfg.MchPrivateKey = other // same serial, wrong key
	wc, err := wxpay.New(cfg, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := payscore.New(wc.API(), payscore.Config{AppID: k.AppID, MchID: k.MchID, ServiceID: serviceID,
		NotifyURL: "https://merchant.example.com/notify", APIv2Key: v2Key}, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	_, err = forged.CreateServiceOrder(context.Background(), service.ServiceOrderRequest{OutOrderNo: "CPforged_01",
		Introduction: "社保信用付", ItemName: "社保缴费", AmountFen: 100, OpenID: "o-user"})
	var ge *service.GatewayError
	if !errors.As(err, &ge) || ge.Status != http.StatusUnauthorized || ge.Code != "SIGN_ERROR" {
		t.Fatalf("forged create: got %v, want 401 SIGN_ERROR", err)
	}
	if got := e.sim.ServiceOrders(); len(got) != 0 {
		t.Fatalf("the simulator recorded %+v after a forged request", got)
	}
}

func TestExtraDataSignature(t *testing.T) {
	d := map[string]string{"mch_id": "1230000109", "package": "XXXXXXXX", "timestamp": "1530097563",
		"nonce_str": "zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2", "sign_type": "HMAC-SHA256"}
	d["sign"] = payscore.SignExtraData("key", d)
	if !payscore.VerifyExtraData("key", d) {
		t.Fatal("own signature does not verify")
	}
	if payscore.VerifyExtraData("other", d) {
		t.Fatal("signature verifies with another key")
	}
	d["package"] = "YYYY"
	if payscore.VerifyExtraData("key", d) {
		t.Fatal("signature verifies after the package changed")
	}
}
