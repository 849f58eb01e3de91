package sim

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/paysim"
	"github.com/shebao/sipay/sim/provsim"
	"github.com/shebao/sipay/sim/wxsim"
	"github.com/shebao/sipay/wxpay"
)

// StackConfig configures the three simulators served together.
type StackConfig struct {
	Keys         *wxpay.DevKeys // merchant and WeChat Pay key pairs, APIv3 key, ids
	WeChatSecret string         // the mini-program secret the WeChat simulator accepts
	Platform     platform.Credentials
	// CallbackBase is our server's base URL, for provincial platform
	// callbacks; empty disables them.
	CallbackBase string
	Clock        service.Clock
	// NotifyScale compresses WeChat Pay's notification retry schedule (0: as documented).
	NotifyScale float64
	Seed        uint64 // platform fault draws
	HTTPClient  *http.Client
	Logger      *slog.Logger
}

// Stack is the WeChat mini-program, WeChat Pay v3 and provincial platform
// simulators behind one handler: /v3/ and /sim/pay/ go to WeChat Pay, /si/
// and /sim/platform/ to the platform, everything else to the mini-program
// APIs (including face verification).
type Stack struct {
	WeChat *wxsim.Sim
	Face   *wxsim.FaceSim
	// Subscribe is the subscribe-message (订阅消息) simulator.
	Subscribe *wxsim.SubscribeSim
	Pay       *paysim.Sim
	Platform  *provsim.Sim
	Keys      *wxpay.DevKeys
	handler   http.Handler
}

// NewStack builds the simulators. Call Stop when done.
func NewStack(c StackConfig) *Stack {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	k := c.Keys
	s := &Stack{Keys: k}
	s.WeChat = wxsim.New(k.AppID, c.WeChatSecret, c.Clock)
	s.Face = wxsim.RegisterFace(s.WeChat)
	s.Subscribe = wxsim.RegisterSubscribe(s.WeChat, subscribeTemplates())
	s.Pay = paysim.New(paysim.Config{AppID: k.AppID, MchID: k.MchID, MerchantPublicKey: &k.MerchantKey.PublicKey,
		MerchantSerial: k.MerchantSerial, PlatformKey: k.PlatformKey, PublicKeyID: k.PublicKeyID,
		APIv3Key: k.APIv3Key, Clock: c.Clock, ScheduleScale: c.NotifyScale, NotifyClient: c.HTTPClient,
		Logger: c.Logger.With("sim", "wechatpay"), PayScoreServiceID: PayScoreServiceID, PayScoreAPIv2Key: PayScoreAPIv2Key(k)})
	var callback func(string) string
	if c.CallbackBase != "" {
		callback = provsim.CallbackURLFor(strings.TrimRight(c.CallbackBase, "/"))
	}
	s.Platform = provsim.New(provsim.Config{Shared: c.Platform, Clock: c.Clock, CallbackURL: callback,
		Logger: c.Logger.With("sim", "platform"), Seed: c.Seed, PendingDelay: 2 * time.Second, HTTPClient: c.HTTPClient})
	payH, provH := s.Pay.Handler(), s.Platform.Handler()
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/v3/"), strings.HasPrefix(p, "/sim/pay/"):
			payH.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/si/"), strings.HasPrefix(p, "/sim/platform/"):
			provH.ServeHTTP(w, r)
		default:
			s.WeChat.ServeHTTP(w, r)
		}
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Stack) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Stop stops background notification deliveries.
func (s *Stack) Stop() { s.Pay.Stop() }
