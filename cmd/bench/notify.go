package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay"
)

// notifyPath is the WeChat Pay notify_url path (config.NotifyURL).
const notifyPath = "/api/v1/wxpay/notify"

// signedNotify is one pre-signed notification.
type signedNotify struct {
	header http.Header
	body   []byte
}

// transaction is the decrypted resource of TRANSACTION.SUCCESS, shaped as
// WeChat Pay (and paysim) write it.
type transaction struct {
	AppID          string         `json:"appid"`
	MchID          string         `json:"mchid"`
	OutTradeNo     string         `json:"out_trade_no"`
	TransactionID  string         `json:"transaction_id"`
	TradeType      string         `json:"trade_type"`
	TradeState     string         `json:"trade_state"`
	TradeStateDesc string         `json:"trade_state_desc"`
	BankType       string         `json:"bank_type"`
	Attach         string         `json:"attach"`
	SuccessTime    string         `json:"success_time"`
	Payer          map[string]any `json:"payer"`
	Amount         map[string]any `json:"amount"`
}

// notifyPool is a range of seeded pending batches with one pre-signed
// TRANSACTION.SUCCESS notification each, consumed in order.
type notifyPool struct {
	prefix string
	from   int
	items  []signedNotify
	next   atomic.Int64
}

// signNotifications pre-signs n notifications for orders prefix[from,
// from+n) with the dev WeChat Pay key, timestamp now, on every CPU.
func signNotifications(keys *wxpay.DevKeys, prefix string, from, n int) (*notifyPool, error) {
	p := &notifyPool{prefix: prefix, from: from, items: make([]signedNotify, n)}
	now := time.Now()
	err := parallel(runtime.NumCPU(), n, func(k int) error {
		i := from + k
		no := orderNo(prefix, i)
		tr := transaction{AppID: keys.AppID, MchID: keys.MchID, OutTradeNo: service.OutTradeNo(no, 1),
			TransactionID: fmt.Sprintf("4200%s%012d", prefix, i), TradeType: "JSAPI", TradeState: "SUCCESS",
			TradeStateDesc: "支付成功", BankType: "OTHERS", SuccessTime: now.In(service.Shanghai).Format(time.RFC3339),
			Payer:  map[string]any{"openid": seedOpenID(i)},
			Amount: map[string]any{"total": seedAmount(i), "payer_total": seedAmount(i), "currency": "CNY", "payer_currency": "CNY"}}
		h, body, err := wxpay.SignNotification("TRANSACTION.SUCCESS", tr, "transaction", keys.PlatformKey, keys.PublicKeyID, keys.APIv3Key, now)
		if err != nil {
			return err
		}
		p.items[k] = signedNotify{header: h, body: body}
		return nil
	})
	return p, err
}

// op posts the next notification; WeChat Pay wants 200 or 204.
func (p *notifyPool) op(c *http.Client, base string) op {
	return func(ctx context.Context, _ int) error {
		k := int(p.next.Add(1) - 1)
		if k >= len(p.items) {
			return errExhausted
		}
		it := p.items[k]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+notifyPath, bytes.NewReader(it.body))
		if err != nil {
			return err
		}
		for name, v := range it.header {
			req.Header[name] = v
		}
		_, err = do(c, req, 0)
		return err
	}
}

// used is how many notifications were taken from the pool.
func (p *notifyPool) used() int { return min(int(p.next.Load()), len(p.items)) }
