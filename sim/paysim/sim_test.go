package paysim_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/paysim"
	"github.com/shebao/sipay/wxpay"
	"github.com/shebao/sipay/wxpay/wxpaytest"
)

var simNow = time.Date(2025, 3, 1, 10, 0, 0, 0, service.Shanghai)

func wait(tb testing.TB, sim *paysim.Sim, event, key string) paysim.Delivery {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := sim.WaitDelivery(ctx, event, key)
	if err != nil {
		tb.Fatalf("WaitDelivery(%s, %s): %v", event, key, err)
	}
	return d
}

// notifyServer answers with status(n) for the n-th request (1-based) and
// records the out_trade_no of each parsed event.
type notifyServer struct {
	calls  atomic.Int32
	mu     sync.Mutex
	seen   []string
	status func(n int) int
}

func startNotify(tb testing.TB, status func(n int) int) (*notifyServer, *httptest.Server, func(*wxpay.NotifyParser)) {
	tb.Helper()
	ns := &notifyServer{status: status}
	var parser atomic.Pointer[wxpay.NotifyParser]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(ns.calls.Add(1))
		body, _ := io.ReadAll(r.Body)
		ev, err := parser.Load().Parse(r.Header, body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		ns.mu.Lock()
		ns.seen = append(ns.seen, ev.(service.TransactionEvent).Trade.OutTradeNo)
		ns.mu.Unlock()
		w.WriteHeader(ns.status(n))
	}))
	tb.Cleanup(srv.Close)
	return ns, srv, func(p *wxpay.NotifyParser) { parser.Store(p) }
}

func prepayAndPay(tb testing.TB, sim *paysim.Sim, c *wxpay.Client, clock service.Clock, no string) {
	tb.Helper()
	p, err := c.Prepay(context.Background(), service.Prepay{OutTradeNo: no, Description: "社保缴费", PayerOpenID: "o1",
		AmountFen: 100, ExpireAt: clock.Now().Add(time.Hour)})
	if err != nil {
		tb.Fatalf("Prepay: %v", err)
	}
	if _, err := sim.Pay(p.PrepayID); err != nil {
		tb.Fatalf("Pay: %v", err)
	}
}

func TestSim_RetriesUntil204(t *testing.T) {
	clock := service.NewManualClock(simNow)
	ns, srv, setParser := startNotify(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	sim, c, p, _ := wxpaytest.NewWithNotifyURL(t, clock, srv.URL)
	setParser(p)
	prepayAndPay(t, sim, c, clock, "SB_RETRY_1")
	d := wait(t, sim, "TRANSACTION.SUCCESS", "SB_RETRY_1")
	if !d.Acked || d.Sent != 3 || ns.calls.Load() != 3 {
		t.Errorf("delivery %+v with %d calls, want acked after exactly 3", d, ns.calls.Load())
	}
}

func TestSim_GivesUpAfterSchedule(t *testing.T) {
	clock := service.NewManualClock(simNow)
	ns, srv, setParser := startNotify(t, func(int) int { return http.StatusInternalServerError })
	sim, c, p, _ := wxpaytest.NewWithNotifyURL(t, clock, srv.URL, wxpaytest.WithSchedule(time.Millisecond, time.Millisecond))
	setParser(p)
	prepayAndPay(t, sim, c, clock, "SB_GIVEUP_1")
	d := wait(t, sim, "TRANSACTION.SUCCESS", "SB_GIVEUP_1")
	if d.Acked || !d.GaveUp || d.Sent != 3 || ns.calls.Load() != 3 {
		t.Errorf("delivery %+v, want given up after 1 + 2 retries", d)
	}
}

func TestSim_DroppedDuplicatedAndConcurrentDeliveries(t *testing.T) {
	clock := service.NewManualClock(simNow)
	ns, srv, setParser := startNotify(t, func(int) int { return http.StatusOK })
	sim, c, p, _ := wxpaytest.NewWithNotifyURL(t, clock, srv.URL)
	setParser(p)
	sim.SetNotifyBehavior(paysim.NotifyBehavior{DropFirst: 2, Duplicates: 2, Concurrent: true})
	prepayAndPay(t, sim, c, clock, "SB_DUP_1")
	d := wait(t, sim, "TRANSACTION.SUCCESS", "SB_DUP_1")
	if d.Dropped != 2 || d.Sent != 3 || ns.calls.Load() != 3 {
		t.Errorf("delivery %+v with %d calls, want 2 dropped then 3 sent at once", d, ns.calls.Load())
	}
}

func TestSim_HeldDeliveriesReleasedInReverse(t *testing.T) {
	clock := service.NewManualClock(simNow)
	ns, srv, setParser := startNotify(t, func(int) int { return http.StatusNoContent })
	sim, c, p, _ := wxpaytest.NewWithNotifyURL(t, clock, srv.URL)
	setParser(p)
	sim.SetNotifyBehavior(paysim.NotifyBehavior{Hold: true})
	prepayAndPay(t, sim, c, clock, "SB_ORDER_1")
	prepayAndPay(t, sim, c, clock, "SB_ORDER_2")
	if n := sim.ReleaseHeld(true, false); n != 2 {
		t.Fatalf("released %d, want 2", n)
	}
	wait(t, sim, "TRANSACTION.SUCCESS", "SB_ORDER_1")
	wait(t, sim, "TRANSACTION.SUCCESS", "SB_ORDER_2")
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if len(ns.seen) != 2 || ns.seen[0] != "SB_ORDER_2" || ns.seen[1] != "SB_ORDER_1" {
		t.Errorf("seen %v, want [SB_ORDER_2 SB_ORDER_1]", ns.seen)
	}
}

func TestSim_NotificationTimestampFollowsInjectedClock(t *testing.T) {
	clock := service.NewManualClock(time.Now().Add(72 * time.Hour))
	ns, srv, setParser := startNotify(t, func(int) int { return http.StatusNoContent })
	sim, c, p, _ := wxpaytest.NewWithNotifyURL(t, clock, srv.URL)
	setParser(p) // the parser shares the shifted clock, as the server does in-process
	prepayAndPay(t, sim, c, clock, "SB_SHIFT_1")
	if d := wait(t, sim, "TRANSACTION.SUCCESS", "SB_SHIFT_1"); !d.Acked || ns.calls.Load() != 1 {
		t.Errorf("delivery %+v, want acked on the first send", d)
	}
}

func TestSim_RefusesForgedAuthorizationAndWrongMchID(t *testing.T) {
	clock := service.NewManualClock(simNow)
	_, _, _, srv := wxpaytest.New(t, clock)
	k := wxpaytest.Keys(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged := wxpaytest.ClientConfig(k, srv.URL, wxpaytest.NotifyURL)
	forged.MchPrivateKey = other
	wrongMch := wxpaytest.ClientConfig(k, srv.URL, wxpaytest.NotifyURL)
	wrongMch.MchID = "1900000000"
	wrongSerial := wxpaytest.ClientConfig(k, srv.URL, wxpaytest.NotifyURL)
	wrongSerial.MchCertSerial = "0123456789ABCDEF"
	for name, cfg := range map[string]wxpay.Config{"ForgedKey": forged, "WrongMchID": wrongMch, "WrongSerial": wrongSerial} {
		t.Run(name, func(t *testing.T) {
			c, err := wxpay.New(cfg, clock)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.QueryTrade(context.Background(), "SB_AUTH_0001")
			var ge *service.GatewayError
			if !errors.As(err, &ge) || ge.Status != http.StatusUnauthorized || ge.Code != "SIGN_ERROR" {
				t.Errorf("QueryTrade error = %v, want 401 SIGN_ERROR", err)
			}
		})
	}
}

func TestSim_RequestPaymentRefusesTamperedParams(t *testing.T) {
	clock := service.NewManualClock(simNow)
	sim, c, _, _ := wxpaytest.New(t, clock)
	p, err := c.Prepay(context.Background(), service.Prepay{OutTradeNo: "SB_SIGN_1", Description: "x", PayerOpenID: "o1",
		AmountFen: 100, ExpireAt: simNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	bad := p
	bad.NonceStr += "x"
	if _, err := sim.RequestPayment(bad); !errors.Is(err, paysim.ErrBadPaySign) {
		t.Errorf("RequestPayment with tampered nonce error = %v, want ErrBadPaySign", err)
	}
	if l, _ := sim.Ledger().Trade("SB_SIGN_1"); l.State != "NOTPAY" {
		t.Errorf("trade state %s, want NOTPAY", l.State)
	}
}

func TestSim_StopEndsPendingRetries(t *testing.T) {
	clock := service.NewManualClock(simNow)
	_, srv, setParser := startNotify(t, func(int) int { return http.StatusInternalServerError })
	sim, c, p, _ := wxpaytest.NewWithNotifyURL(t, clock, srv.URL, wxpaytest.WithSchedule(time.Hour))
	setParser(p)
	prepayAndPay(t, sim, c, clock, "SB_STOP_1")
	sim.Stop() // returns only when the delivery goroutine (waiting an hour) has ended
	ds := sim.Deliveries()
	if len(ds) != 1 || ds[0].Sent != 1 || ds[0].Acked || ds[0].GaveUp {
		t.Errorf("deliveries after Stop %+v, want one unacknowledged send", ds)
	}
}
