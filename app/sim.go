package app

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/sim"
	"github.com/shebao/sipay/sim/paysim"
	"github.com/shebao/sipay/sim/provsim"
	"github.com/shebao/sipay/sim/wxsim"
	"github.com/shebao/sipay/wxpay"
)

// Simulators are the in-process stand-ins for WeChat, WeChat Pay and the
// provincial platform, served on one loopback listener.
type Simulators struct {
	WeChat   *wxsim.Sim
	Pay      *paysim.Sim
	Platform *provsim.Sim
	Keys     *wxpay.DevKeys
}

// Development credentials of the simulated provincial platform.
const (
	simPlatformAppID  = "sipay-dev"
	simPlatformSecret = "dev-platform-secret-not-for-production"
)

// startSimulators starts the simulators on a loopback port, generates (or
// reuses) development keys in DATA_DIR and points every client at them.
func (a *App) startSimulators() error {
	cfg := a.Cfg
	keys, err := wxpay.LoadOrCreateDevKeys(filepath.Join(cfg.DataDir, "devkeys"))
	if err != nil {
		return fmt.Errorf("development keys: %w", err)
	}
	if cfg.WeChat.AppID == "" {
		cfg.WeChat.AppID = keys.AppID
	}
	if cfg.WeChat.Secret == "" {
		cfg.WeChat.Secret = "dev-secret-not-for-production"
	}
	keys.AppID = cfg.WeChat.AppID
	s := &Simulators{Keys: keys}
	s.WeChat = wxsim.New(cfg.WeChat.AppID, cfg.WeChat.Secret, a.Clock)
	a.FaceSim = wxsim.RegisterFace(s.WeChat)
	s.Pay = paysim.New(paysim.Config{AppID: keys.AppID, MchID: keys.MchID, MerchantPublicKey: &keys.MerchantKey.PublicKey,
		MerchantSerial: keys.MerchantSerial, PlatformKey: keys.PlatformKey, PublicKeyID: keys.PublicKeyID,
		APIv3Key: keys.APIv3Key, Clock: a.Clock, Logger: a.Log.With("sim", "wechatpay")})
	a.closers = append(a.closers, s.Pay.Stop)
	base := cfg.PublicBaseURL
	s.Platform = provsim.New(provsim.Config{
		Shared: platform.Credentials{AppID: simPlatformAppID, Secret: simPlatformSecret},
		Clock:  a.Clock, CallbackURL: provsim.CallbackURLFor(base), Logger: a.Log.With("sim", "platform"),
		PendingDelay: 2 * time.Second,
	})

	mux := http.NewServeMux()
	payH := s.Pay.Handler()
	provH := s.Platform.Handler()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/v3/"), strings.HasPrefix(p, "/sim/pay/"):
			payH.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/si/"), strings.HasPrefix(p, "/sim/platform/"):
			provH.ServeHTTP(w, r)
		default:
			s.WeChat.ServeHTTP(w, r)
		}
	})
	srv, err := sim.Start("127.0.0.1:0", mux)
	if err != nil {
		return fmt.Errorf("start simulator: %w", err)
	}
	a.closers = append(a.closers, func() { srv.Close() })
	a.SimURL, a.Sims = srv.URL, s
	cfg.WeChat.APIBase = srv.URL
	cfg.Pay.APIBase = srv.URL
	cfg.Pay.MchID = keys.MchID
	cfg.Platform.BaseURL = srv.URL
	cfg.Platform.AppID, cfg.Platform.Secret = simPlatformAppID, simPlatformSecret
	a.Log.Info("simulator listening", "url", srv.URL)
	return nil
}

// buildPayAndPlatform builds the WeChat Pay client, its notify parser and
// the provincial platform client from the configuration (or the simulator).
func (a *App) buildPayAndPlatform() error {
	cfg := a.Cfg
	var wc wxpay.Config
	if a.Sims != nil {
		k := a.Sims.Keys
		wc = wxpay.Config{AppID: k.AppID, MchID: k.MchID, MchCertSerial: k.MerchantSerial, MchPrivateKey: k.MerchantKey,
			APIv3Key: k.APIv3Key, PublicKeyID: k.PublicKeyID, PublicKey: &k.PlatformKey.PublicKey}
	} else {
		priv, err := wxpay.LoadPrivateKeyFile(cfg.Pay.MchPrivateKeyFile)
		if err != nil {
			return fmt.Errorf("WECHATPAY_MCH_PRIVATE_KEY_FILE: %w", err)
		}
		pub, err := wxpay.LoadPublicKeyFile(cfg.Pay.PublicKeyFile)
		if err != nil {
			return fmt.Errorf("WECHATPAY_PUBLIC_KEY_FILE: %w", err)
		}
		wc = wxpay.Config{AppID: cfg.WeChat.AppID, MchID: cfg.Pay.MchID, MchCertSerial: cfg.Pay.MchCertSerial,
			MchPrivateKey: priv, APIv3Key: cfg.Pay.APIv3Key, PublicKeyID: cfg.Pay.PublicKeyID, PublicKey: pub}
		if cfg.Pay.PlatformCertFile != "" {
			cert, err := wxpay.LoadCertificateFile(cfg.Pay.PlatformCertFile)
			if err != nil {
				return fmt.Errorf("WECHATPAY_PLATFORM_CERT_FILE: %w", err)
			}
			wc.PlatformCerts = append(wc.PlatformCerts, cert)
		}
	}
	if cfg.Pay.APIBase != "" && cfg.Pay.APIBase != "https://api.mch.weixin.qq.com" {
		wc.APIBase = cfg.Pay.APIBase
	}
	wc.NotifyURL = cfg.NotifyURL()
	var err error
	if a.Pay, err = wxpay.New(wc, a.Clock); err != nil {
		return fmt.Errorf("wechat pay: %w", err)
	}
	if a.Notify, err = wxpay.NewNotifyParserFromConfig(wc, a.Clock); err != nil {
		return fmt.Errorf("wechat pay notify: %w", err)
	}
	pc := platform.Config{Default: platform.Credentials{AppID: cfg.Platform.AppID, Secret: cfg.Platform.Secret, BaseURL: cfg.Platform.BaseURL},
		Regions: map[string]platform.Credentials{}}
	for code, r := range cfg.Platform.Regions {
		pc.Regions[code] = platform.Credentials{AppID: r.AppID, Secret: r.Secret, BaseURL: r.BaseURL}
	}
	a.platformCfg = pc
	if a.Platform, err = platform.NewClient(pc, a.Clock, nil, a.Log.With("component", "platform")); err != nil {
		return fmt.Errorf("PLATFORM_*: %w", err)
	}
	return nil
}
