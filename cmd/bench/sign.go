package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// signRate measures RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second (the
// WeChat Pay v3 signature) with one goroutine per CPU for dur, and single
// verifications per second for reference.
func signRate(ctx context.Context, key *rsa.PrivateKey, dur time.Duration) (signPerSec, verifyPerSec float64) {
	msg := []byte("POST\n/v3/pay/transactions/jsapi\n1700000000\n593BEC0C930BF1AFEB40B4A08C8FB242\n" +
		`{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"社保缴费","out_trade_no":"S00000000001_01","notify_url":"https://example.com/api/v1/wxpay/notify","amount":{"total":140000,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}` + "\n")
	measure := func(f func()) float64 {
		var n atomic.Int64
		var wg sync.WaitGroup
		stop := time.Now().Add(dur)
		start := time.Now()
		for w := 0; w < runtime.NumCPU(); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) && ctx.Err() == nil {
					f()
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / time.Since(start).Seconds()
	}
	sum := sha256.Sum256(msg)
	sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	signPerSec = measure(func() {
		h := sha256.Sum256(msg)
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:]); err != nil {
			panic(err)
		}
	})
	verifyPerSec = measure(func() {
		h := sha256.Sum256(msg)
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, h[:], sig); err != nil {
			panic(err)
		}
	})
	return signPerSec, verifyPerSec
}
