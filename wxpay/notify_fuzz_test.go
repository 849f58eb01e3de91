package wxpay_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
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
		if err != nil {
			return
		}
		// Accepted: check independently that WeChat's key signed exactly
		// this message, under its key id, within five minutes.
		if serial != k.PublicKeyID {
			t.Fatalf("accepted serial %q, want %q", serial, k.PublicKeyID)
		}
		raw, derr := base64.StdEncoding.DecodeString(sig)
		sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
		if derr != nil || rsa.VerifyPKCS1v15(&k.PlatformKey.PublicKey, crypto.SHA256, sum[:], raw) != nil {
			t.Fatalf("accepted a body the platform key did not sign")
		}
		sec, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil || time.Unix(sec, 0).Sub(notifyNow).Abs() >= 5*time.Minute {
			t.Fatalf("accepted timestamp %q outside five minutes of %v", ts, notifyNow)
		}
		switch got.(type) {
		case service.TransactionEvent, service.RefundEvent:
		default:
			t.Fatalf("accepted result of type %T", got)
		}
	})
}
