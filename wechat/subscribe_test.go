package wechat_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/wxsim"
	"github.com/shebao/sipay/wechat"
)

// The real silenceper client against the simulator: no grant is 43101 (a
// *service.SubscribeError), an accepted template is delivered once, and
// data that does not fit the template's keywords is 47003.
func TestSendSubscribeThroughSilenceperAgainstTheSimulator(t *testing.T) {
	sim := wxsim.New("wxsimapp", "sim-secret", service.SystemClock{})
	subs := wxsim.RegisterSubscribe(sim, map[string][]string{"TPL1": {"character_string1", "amount2", "thing3"}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	mr := miniredis.RunT(t)
	c := wechat.New("wxsimapp", "sim-secret", srv.URL, redis.NewClient(&redis.Options{Addr: mr.Addr()}))
	ctx := context.Background()
	openID := sim.OpenID("code-1")
	data := map[string]string{"character_string1": "SP2603020000001", "amount2": "12.34元", "thing3": "已入账"}

	var se *service.SubscribeError
	if err := c.SendSubscribe(ctx, openID, "TPL1", "pages/order/detail?order_no=1", data); !errors.As(err, &se) || se.ErrCode != 43101 {
		t.Fatalf("without a grant: %v, want errcode 43101", err)
	}
	subs.Accept(openID, "TPL1")
	if err := c.SendSubscribe(ctx, openID, "TPL1", "pages/order/detail?order_no=1", data); err != nil {
		t.Fatalf("with a grant: %v", err)
	}
	if err := c.SendSubscribe(ctx, openID, "TPL1", "pages/order/detail?order_no=1", data); !errors.As(err, &se) || se.ErrCode != 43101 {
		t.Fatalf("the grant used: %v, want errcode 43101", err)
	}
	subs.Accept(openID, "TPL1")
	bad := map[string]string{"character_string1": "SP1", "amount2": "十二元", "thing3": "x"}
	if err := c.SendSubscribe(ctx, openID, "TPL1", "", bad); !errors.As(err, &se) || se.ErrCode != 47003 {
		t.Fatalf("bad amount: %v, want errcode 47003", err)
	}
	if err := c.SendSubscribe(ctx, openID, "NOPE", "", data); !errors.As(err, &se) || se.ErrCode != 40037 {
		t.Fatalf("unknown template: %v, want errcode 40037", err)
	}
	sent := subs.Sent(openID)
	if len(sent) != 1 || sent[0].Data["amount2"] != "12.34元" || sent[0].At.After(time.Now()) {
		t.Fatalf("delivered %+v, want the one accepted message", sent)
	}
}
