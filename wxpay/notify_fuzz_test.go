package wxpay_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

// FuzzParse feeds arbitrary bodies and header values to Parse: it must never
// panic, and a body it accepts must have been signed by the platform key.
func FuzzParse(f *testing.F) {
	k := mustKeys(f)
	p := mustParser(f, service.NewManualClock(notifyNow))
	h, body := mustSign(f, "TRANSACTION.SUCCESS", sampleTransaction(k), "transaction", notifyNow)
	rh, rbody := mustSign(f, "REFUND.SUCCESS", sampleRefund(), "refund", notifyNow)
	stale, sbody := mustSign(f, "TRANSACTION.SUCCESS", sampleTransaction(k), "transaction", notifyNow.Add(-time.Hour))
	add := func(h http.Header, body []byte) {
		f.Add(body, h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Nonce"), h.Get("Wechatpay-Signature"), h.Get("Wechatpay-Serial"))
	}
	add(h, body)
	add(rh, rbody)
	add(stale, sbody)
	add(h, []byte(`{"resource":null}`))
	add(h, []byte(`{}`))
	add(h, []byte(strings.Replace(string(body), "AEAD_AES_256_GCM", "X", 1)))
	f.Add([]byte("not json"), "", "", "", "")
	f.Add(body, h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Nonce"), "WECHATPAY/SIGNTEST/abc", k.PublicKeyID)

	f.Fuzz(func(t *testing.T, body []byte, ts, nonce, sig, serial string) {
		hh := http.Header{}
		hh.Set("Wechatpay-Timestamp", ts)
		hh.Set("Wechatpay-Nonce", nonce)
		hh.Set("Wechatpay-Signature", sig)
		hh.Set("Wechatpay-Serial", serial)
		got, err := p.Parse(hh, body)
		if err == nil && got == nil {
			t.Fatalf("Parse returned nil result and nil error")
		}
		if err != nil && got != nil {
			t.Fatalf("Parse returned both %v and %v", got, err)
		}
	})
}
