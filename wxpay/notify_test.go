package wxpay_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

var (
	keysOnce sync.Once
	testKeys *wxpay.DevKeys
	otherKey *rsa.PrivateKey
)

// mustKeys returns keys shared by the package's tests (RSA generation is slow).
func mustKeys(tb testing.TB) *wxpay.DevKeys {
	tb.Helper()
	keysOnce.Do(func() {
		var err error
		if testKeys, err = wxpay.GenerateDevKeys(); err != nil {
			panic(err)
		}
		if otherKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return testKeys
}

var notifyNow = time.Date(2025, 3, 1, 10, 0, 0, 0, service.Shanghai)

func mustParser(tb testing.TB, clock service.Clock) *wxpay.NotifyParser {
	tb.Helper()
	k := mustKeys(tb)
	p, err := wxpay.NewNotifyParser(k.APIv3Key, wxpay.VerifyKeys{PublicKeyID: k.PublicKeyID, PublicKey: &k.PlatformKey.PublicKey}, clock)
	if err != nil {
		tb.Fatalf("NewNotifyParser: %v", err)
	}
	return p
}

func sampleTransaction(k *wxpay.DevKeys) payments.Transaction {
	s := func(v string) *string { return &v }
	total := int64(123456)
	return payments.Transaction{
		Appid: s(k.AppID), Mchid: s(k.MchID), OutTradeNo: s("SB2025030100001"), TransactionId: s("4200000001202503011234567890"),
		TradeType: s("JSAPI"), TradeState: s("SUCCESS"), TradeStateDesc: s("支付成功"), BankType: s("OTHERS"),
		Attach: s("order:1"), SuccessTime: s("2025-03-01T09:59:58+08:00"),
		Payer:  &payments.TransactionPayer{Openid: s("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")},
		Amount: &payments.TransactionAmount{Total: &total, PayerTotal: &total, Currency: s("CNY"), PayerCurrency: s("CNY")},
	}
}

func sampleRefund() wxpay.RefundNotification {
	return wxpay.RefundNotification{MchID: "1900000109", TransactionID: "4200000001202503011234567890",
		OutTradeNo: "SB2025030100001", RefundID: "50000000382019052709732678859", OutRefundNo: "RF2025030100001",
		RefundStatus: "SUCCESS", SuccessTime: "2025-03-01T10:00:00+08:00", UserReceivedAccount: "招商银行信用卡0403",
		Amount: wxpay.RefundNotifyAmount{Total: 123456, Refund: 23456, PayerTotal: 123456, PayerRefund: 23456}}
}

func mustSign(tb testing.TB, event string, resource any, originalType string, ts time.Time) (http.Header, []byte) {
	tb.Helper()
	k := mustKeys(tb)
	h, body, err := wxpay.SignNotification(event, resource, originalType, k.PlatformKey, k.PublicKeyID, k.APIv3Key, ts)
	if err != nil {
		tb.Fatalf("SignNotification: %v", err)
	}
	return h, body
}

func TestParse_ValidTransactionGivesTradeEvent(t *testing.T) {
	k := mustKeys(t)
	h, body := mustSign(t, "TRANSACTION.SUCCESS", sampleTransaction(k), "transaction", notifyNow)
	got, err := mustParser(t, service.NewManualClock(notifyNow.Add(30*time.Second))).Parse(h, body)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	ev, ok := got.(service.TransactionEvent)
	if !ok {
		t.Fatalf("got %T, want service.TransactionEvent", got)
	}
	tr := ev.Trade
	if tr.OutTradeNo != "SB2025030100001" || tr.TransactionID != "4200000001202503011234567890" || tr.State != service.TradeSuccess {
		t.Errorf("got trade %+v", tr)
	}
	if got, want := tr.TotalFen, service.Fen(123456); got != want {
		t.Errorf("TotalFen=%v, want %v", got, want)
	}
	if tr.AppID != k.AppID || tr.MchID != k.MchID || tr.PayerOpenID != "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" || tr.Attach != "order:1" || tr.Currency != "CNY" {
		t.Errorf("got trade %+v", tr)
	}
	if want := time.Date(2025, 3, 1, 1, 59, 58, 0, time.UTC); !tr.SuccessTime.Equal(want) {
		t.Errorf("SuccessTime=%v, want %v", tr.SuccessTime, want)
	}
	if ev.EventType != "TRANSACTION.SUCCESS" || !strings.HasPrefix(ev.EventID, "EV-") || !strings.Contains(string(ev.Plaintext), "SB2025030100001") {
		t.Errorf("got event %q %q plaintext %q", ev.EventType, ev.EventID, ev.Plaintext)
	}
}

func TestParse_ValidRefundGivesRefundEvent(t *testing.T) {
	h, body := mustSign(t, "REFUND.SUCCESS", sampleRefund(), "refund", notifyNow)
	got, err := mustParser(t, service.NewManualClock(notifyNow)).Parse(h, body)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	ev, ok := got.(service.RefundEvent)
	if !ok {
		t.Fatalf("got %T, want service.RefundEvent", got)
	}
	r := ev.Refund
	if r.OutRefundNo != "RF2025030100001" || r.Status != service.RefundSuccess || r.RefundFen != 23456 || r.TotalFen != 123456 || r.OutTradeNo != "SB2025030100001" {
		t.Errorf("got refund %+v", r)
	}
	if r.UserReceivedAccount != "招商银行信用卡0403" || r.SuccessTime.IsZero() {
		t.Errorf("got refund %+v", r)
	}
}

func TestParse_Refused(t *testing.T) {
	k := mustKeys(t)
	tx := sampleTransaction(k)
	clock := service.NewManualClock(notifyNow)

	valid := func() (http.Header, []byte) { return mustSign(t, "TRANSACTION.SUCCESS", tx, "transaction", notifyNow) }
	resign := func(h http.Header, body []byte, key *rsa.PrivateKey) {
		sig, err := utils.SignSHA256WithRSA(h.Get("Wechatpay-Timestamp")+"\n"+h.Get("Wechatpay-Nonce")+"\n"+string(body)+"\n", key)
		if err != nil {
			t.Fatal(err)
		}
		h.Set("Wechatpay-Signature", sig)
	}
	tamper := func(body []byte, edit func(r map[string]any)) []byte {
		var env map[string]any
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatal(err)
		}
		edit(env["resource"].(map[string]any))
		b, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	cases := []struct {
		name string
		make func() (http.Header, []byte)
		want error
	}{
		{"ForgedSignature", func() (http.Header, []byte) {
			h, b := valid()
			resign(h, b, otherKey)
			return h, b
		}, wxpay.ErrBadSignature},
		{"BodyChangedAfterSigning", func() (http.Header, []byte) {
			h, b := valid()
			return h, []byte(strings.Replace(string(b), "encrypt-resource", "encrypt-resourcX", 1))
		}, wxpay.ErrBadSignature},
		{"SignatureNotBase64", func() (http.Header, []byte) {
			h, b := valid()
			h.Set("Wechatpay-Signature", "!!!")
			return h, b
		}, wxpay.ErrBadSignature},
		{"TamperedCiphertextResigned", func() (http.Header, []byte) {
			h, b := valid()
			b = tamper(b, func(r map[string]any) {
				ct, _ := base64.StdEncoding.DecodeString(r["ciphertext"].(string))
				ct[3] ^= 0x01
				r["ciphertext"] = base64.StdEncoding.EncodeToString(ct)
			})
			resign(h, b, k.PlatformKey)
			return h, b
		}, wxpay.ErrDecrypt},
		{"WrongAssociatedDataResigned", func() (http.Header, []byte) {
			h, b := valid()
			b = tamper(b, func(r map[string]any) { r["associated_data"] = "refund" })
			resign(h, b, k.PlatformKey)
			return h, b
		}, wxpay.ErrDecrypt},
		{"WrongAlgorithm", func() (http.Header, []byte) {
			h, b := valid()
			b = tamper(b, func(r map[string]any) { r["algorithm"] = "AEAD_SM4_GCM" })
			resign(h, b, k.PlatformKey)
			return h, b
		}, wxpay.ErrMalformed},
		{"TimestampSixMinutesOld", func() (http.Header, []byte) {
			return mustSign(t, "TRANSACTION.SUCCESS", tx, "transaction", notifyNow.Add(-6*time.Minute))
		}, wxpay.ErrStaleTimestamp},
		{"TimestampSixMinutesAhead", func() (http.Header, []byte) {
			return mustSign(t, "TRANSACTION.SUCCESS", tx, "transaction", notifyNow.Add(6*time.Minute))
		}, wxpay.ErrStaleTimestamp},
		{"SigntestProbe", func() (http.Header, []byte) {
			h, b := valid()
			h.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature"))
			return h, b
		}, wxpay.ErrSignatureProbe},
		{"UnknownSerial", func() (http.Header, []byte) {
			h, b := valid()
			h.Set("Wechatpay-Serial", "PUB_KEY_ID_0000000000000000000000000000000")
			return h, b
		}, wxpay.ErrUnknownSerial},
		{"NonIntegerTimestamp", func() (http.Header, []byte) {
			h, b := valid()
			h.Set("Wechatpay-Timestamp", "soon")
			return h, b
		}, wxpay.ErrMalformed},
		{"WrongSignatureType", func() (http.Header, []byte) {
			h, b := valid()
			h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3")
			return h, b
		}, wxpay.ErrMalformed},
		{"BodyOverOneMiB", func() (http.Header, []byte) {
			h, _ := valid()
			return h, make([]byte, service.MaxNotifyBody+1)
		}, wxpay.ErrMalformed},
		{"UnknownEventType", func() (http.Header, []byte) {
			return mustSign(t, "MCHTRANSFER.BILL.FINISHED", tx, "transaction", notifyNow)
		}, wxpay.ErrMalformed},
		{"TransactionWithoutOutTradeNo", func() (http.Header, []byte) {
			return mustSign(t, "TRANSACTION.SUCCESS", map[string]any{"trade_state": "SUCCESS"}, "transaction", notifyNow)
		}, wxpay.ErrMalformed},
	}
	for _, name := range []string{"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"} {
		cases = append(cases, struct {
			name string
			make func() (http.Header, []byte)
			want error
		}{"Missing" + name, func() (http.Header, []byte) {
			h, b := valid()
			h.Del(name)
			return h, b
		}, wxpay.ErrMalformed})
	}
	p := mustParser(t, clock)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, b := tc.make()
			got, err := p.Parse(h, b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse error = %v, want %v", err, tc.want)
			}
			if got != nil {
				t.Errorf("Parse result = %v, want nil", got)
			}
		})
	}
}

func TestParse_TimestampFourMinutesOffIsAccepted(t *testing.T) {
	k := mustKeys(t)
	p := mustParser(t, service.NewManualClock(notifyNow))
	for _, d := range []time.Duration{-4 * time.Minute, 4 * time.Minute} {
		h, b := mustSign(t, "TRANSACTION.SUCCESS", sampleTransaction(k), "transaction", notifyNow.Add(d))
		if _, err := p.Parse(h, b); err != nil {
			t.Errorf("offset %v: Parse error = %v, want nil", d, err)
		}
	}
}

func TestParse_ChoosesPlatformCertificateBySerial(t *testing.T) {
	k := mustKeys(t)
	certKey := otherKey
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5157F09EFDC096DE), Subject: pkix.Name{CommonName: "Tenpay.com Root CA"},
		NotBefore: notifyNow.Add(-time.Hour), NotAfter: notifyNow.Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &certKey.PublicKey, certKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	certSerial := utils.GetCertificateSerialNumber(*cert)
	p, err := wxpay.NewNotifyParser(k.APIv3Key, wxpay.VerifyKeys{PublicKeyID: k.PublicKeyID, PublicKey: &k.PlatformKey.PublicKey,
		PlatformCerts: []*x509.Certificate{cert}}, service.NewManualClock(notifyNow))
	if err != nil {
		t.Fatal(err)
	}
	tx := sampleTransaction(k)

	h, b, err := wxpay.SignNotification("TRANSACTION.SUCCESS", tx, "transaction", certKey, certSerial, k.APIv3Key, notifyNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(h, b); err != nil {
		t.Errorf("certificate-signed: Parse error = %v, want nil", err)
	}
	// Signed by the public-key pair but naming the certificate serial: refused.
	h, b, _ = wxpay.SignNotification("TRANSACTION.SUCCESS", tx, "transaction", k.PlatformKey, certSerial, k.APIv3Key, notifyNow)
	if _, err := p.Parse(h, b); !errors.Is(err, wxpay.ErrBadSignature) {
		t.Errorf("wrong key for serial: Parse error = %v, want %v", err, wxpay.ErrBadSignature)
	}
}
