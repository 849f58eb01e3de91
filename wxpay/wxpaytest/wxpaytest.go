// Package wxpaytest starts the WeChat Pay simulator on an httptest server
// with throwaway keys and a wxpay.Client pointed at it.
package wxpaytest

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/paysim"
	"github.com/shebao/sipay/wxpay"
)

var (
	keysOnce sync.Once
	keys     *wxpay.DevKeys
	keysErr  error
)

// Keys returns a process-wide set of generated dev keys (RSA generation is
// slow, so tests share one set).
func Keys(tb testing.TB) *wxpay.DevKeys {
	tb.Helper()
	keysOnce.Do(func() { keys, keysErr = wxpay.GenerateDevKeys() })
	if keysErr != nil {
		tb.Fatalf("generate dev keys: %v", keysErr)
	}
	return keys
}

// Option adjusts the simulator config before it starts.
type Option func(*paysim.Config)

// WithSchedule sets the notification retry schedule.
func WithSchedule(d ...time.Duration) Option {
	return func(c *paysim.Config) { c.Schedule = d }
}

// WithRefundDelay sets how long refunds stay PROCESSING.
func WithRefundDelay(d time.Duration) Option {
	return func(c *paysim.Config) { c.RefundDelay = d }
}

// NotifyURL is the notify_url the client sends unless Config says otherwise.
// Tests that receive notifications set their own with NewWithNotifyURL.
const NotifyURL = "https://merchant.example.com/api/pay/notify"

// New starts the simulator on an httptest server and returns it with a
// client and a notification parser configured for it. Everything is closed
// by tb.Cleanup. The retry schedule is compressed to milliseconds.
func New(tb testing.TB, clock service.Clock, opts ...Option) (*paysim.Sim, *wxpay.Client, *wxpay.NotifyParser, *httptest.Server) {
	tb.Helper()
	return NewWithNotifyURL(tb, clock, NotifyURL, opts...)
}

// NewWithNotifyURL is New with the notify_url the client sends.
func NewWithNotifyURL(tb testing.TB, clock service.Clock, notifyURL string, opts ...Option) (*paysim.Sim, *wxpay.Client, *wxpay.NotifyParser, *httptest.Server) {
	tb.Helper()
	k := Keys(tb)
	cfg := paysim.Config{
		AppID: k.AppID, MchID: k.MchID,
		MerchantPublicKey: &k.MerchantKey.PublicKey, MerchantSerial: k.MerchantSerial,
		PlatformKey: k.PlatformKey, PublicKeyID: k.PublicKeyID, APIv3Key: k.APIv3Key,
		Clock:    clock,
		Schedule: []time.Duration{time.Millisecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond},
	}
	for _, o := range opts {
		o(&cfg)
	}
	sim := paysim.New(cfg)
	srv := httptest.NewServer(sim.Handler())
	tb.Cleanup(func() {
		sim.Stop()
		srv.Close()
	})
	wcfg := ClientConfig(k, srv.URL, notifyURL)
	client, err := wxpay.New(wcfg, clock)
	if err != nil {
		tb.Fatalf("wxpay.New: %v", err)
	}
	parser, err := wxpay.NewNotifyParserFromConfig(wcfg, clock)
	if err != nil {
		tb.Fatalf("wxpay.NewNotifyParserFromConfig: %v", err)
	}
	return sim, client, parser, srv
}

// ClientConfig is the wxpay.Config that talks to a simulator at apiBase
// holding keys k.
func ClientConfig(k *wxpay.DevKeys, apiBase, notifyURL string) wxpay.Config {
	return wxpay.Config{
		AppID: k.AppID, MchID: k.MchID, MchCertSerial: k.MerchantSerial, MchPrivateKey: k.MerchantKey,
		APIv3Key: k.APIv3Key, PublicKeyID: k.PublicKeyID, PublicKey: &k.PlatformKey.PublicKey,
		APIBase: apiBase, NotifyURL: notifyURL, HTTPTimeout: 10 * time.Second,
	}
}
