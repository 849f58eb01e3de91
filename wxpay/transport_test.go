package wxpay_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shebao/sipay/internal/httpx/httpxtest"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay"
	"github.com/shebao/sipay/wxpay/wxpaytest"
)

// With http.DefaultTransport (2 idle connections per host) a second burst
// of 16 concurrent prepays dialed 14 connections again (in production, 14
// TLS handshakes with api.mch.weixin.qq.com). The client's own transport
// keeps the first burst's connections for the next.
func TestClient_ConcurrentCallsReuseTheirConnections(t *testing.T) {
	clock := service.NewManualClock(payNow)
	sim, _, _, _ := wxpaytest.New(t, clock)
	const wave = 16
	srv := httpxtest.NewServer(t, wave, sim.Handler())
	c, err := wxpay.New(wxpaytest.ClientConfig(wxpaytest.Keys(t), srv.URL, wxpaytest.NotifyURL), clock)
	if err != nil {
		t.Fatal(err)
	}
	first, second := srv.NewConnsPerWave(t, func(i int) error {
		_, err := c.Prepay(context.Background(), service.Prepay{OutTradeNo: fmt.Sprintf("SB_KEEPALIVE_%d", i),
			Description: "x", PayerOpenID: "o1", AmountFen: 100, ExpireAt: payNow.Add(time.Hour)})
		return err
	})
	if first < wave {
		t.Fatalf("first wave opened %d connections, want %d (the server holds the calls until all are in)", first, wave)
	}
	if second > 2 {
		t.Errorf("second wave opened %d new connections, want at most 2: the first wave's were not kept", second)
	}
}
