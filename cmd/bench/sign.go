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

	"github.com/shebao/sipay/wxpay"
)

// verifyRate measures RSA-2048 PKCS#1 v1.5 SHA-256 verifications per second
// on all cores, for reference (the simulator and the notify endpoint verify).
func verifyRate(ctx context.Context, keys *wxpay.DevKeys, dur time.Duration) float64 {
	msg := []byte("1700000000\n593BEC0C930BF1AFEB40B4A08C8FB242\n{\"id\":\"EV-2018022511223320873\"}\n")
	sum := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(rand.Reader, keys.MerchantKey, crypto.SHA256, sum[:])
	if err != nil {
		return 0
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(dur)
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) && ctx.Err() == nil {
				h := sha256.Sum256(msg)
				if rsa.VerifyPKCS1v15(&keys.MerchantKey.PublicKey, crypto.SHA256, h[:], sig) == nil {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}
