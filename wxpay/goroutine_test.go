package wxpay_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

// wechatpay-go reads every response body and replaces it with a copy without
// closing the original. With http.Client.Timeout that left a timer, and for
// the simulator's rewriting transport a goroutine, behind each call until
// the timeout (10 s here) fired. The client now releases both at EOF.
func TestClient_CallsLeaveNoGoroutineBehind(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Warm up: the keep-alive connection and its goroutines exist from here.
	mustPrepay(t, e, "SB_GOROUTINE_WARM", 100)
	before := settledGoroutines(0)
	const calls = 300
	for i := 0; i < calls; i++ {
		otn := fmt.Sprintf("SB_GOROUTINE_%d", i)
		if _, err := e.client.Prepay(ctx, service.Prepay{OutTradeNo: otn, Description: "x", PayerOpenID: "o1",
			AmountFen: 100, ExpireAt: payNow.Add(time.Hour)}); err != nil {
			t.Fatalf("prepay %d: %v", i, err)
		}
		if _, err := e.client.QueryTrade(ctx, otn); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
	}
	after := settledGoroutines(before)
	t.Logf("goroutines: %d before, %d after %d prepays and %d queries", before, after, calls, calls)
	if after-before > 20 {
		t.Errorf("goroutines grew from %d to %d over %d calls: something stays behind per call", before, after, 2*calls)
	}
}

// settledGoroutines returns the goroutine count once it stops falling toward
// want (connection goroutines may take a moment to exit), within 2 s.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 40 && n > want; i++ {
		time.Sleep(50 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}
