package app

import (
	"fmt"
	"path/filepath"

	"github.com/shebao/sipay/config"
	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/sim"
	"github.com/shebao/sipay/wxpay"
)

// Development credentials of the simulated provincial platform.
const (
	simPlatformAppID  = "sipay-dev"
	simPlatformSecret = "dev-platform-secret-not-for-production"
)

// peers are where the WeChat, WeChat Pay and provincial platform clients
// connect, and with which credentials: the configuration's, or the
// simulator's (startSimulators).
type peers struct {
	WeChat   config.WeChat
	Pay      config.Pay
	Platform config.Platform
}

func peersOf(cfg *config.Config) peers {
	return peers{WeChat: cfg.WeChat, Pay: cfg.Pay, Platform: cfg.Platform}
}

// startSimulators starts the simulators on a loopback port, generates (or
// reuses) development keys in DATA_DIR and returns the peers pointing every
// client at them. The loaded configuration is left as it was.
func (a *App) startSimulators() (peers, error) {
	cfg := a.Cfg
	p := peersOf(cfg)
	keys, err := wxpay.LoadOrCreateDevKeys(filepath.Join(cfg.DataDir, "devkeys"))
	if err != nil {
		return p, fmt.Errorf("development keys: %w", err)
	}
	if p.WeChat.AppID == "" {
		p.WeChat.AppID = keys.AppID
	}
	if p.WeChat.Secret == "" {
		p.WeChat.Secret = "dev-secret-not-for-production"
	}
	keys.AppID = p.WeChat.AppID
	p.Pay.MchID, p.Pay.APIv3Key = keys.MchID, keys.APIv3Key
	p.Platform.AppID, p.Platform.Secret = simPlatformAppID, simPlatformSecret
	// The log scrubber (App.Secrets) knows them before any simulator
	// goroutine can log.
	a.simSecrets = []string{p.WeChat.Secret, p.Pay.APIv3Key, p.Platform.Secret}
	s := sim.NewStack(sim.StackConfig{Keys: keys, WeChatSecret: p.WeChat.Secret,
		Platform:     platform.Credentials{AppID: simPlatformAppID, Secret: simPlatformSecret},
		CallbackBase: cfg.PublicBaseURL, Clock: a.Clock, Logger: a.Log})
	a.closers = append(a.closers, s.Stop)
	srv, err := sim.Start("127.0.0.1:0", s)
	if err != nil {
		return p, fmt.Errorf("start simulator: %w", err)
	}
	a.closers = append(a.closers, func() { srv.Close() })
	a.SimURL, a.Sims = srv.URL, s
	front := srv.URL
	if a.opts.SimFront != nil {
		front = a.opts.SimFront(srv.URL)
	}
	p.WeChat.APIBase, p.Pay.APIBase, p.Platform.BaseURL = front, front, front
	a.Log.Info("simulator listening", "url", srv.URL)
	return p, nil
}

// buildPayAndPlatform builds the WeChat Pay client, its notify parser and
// the provincial platform client from the configuration (or the simulator).
func (a *App) buildPayAndPlatform() error {
	cfg, p := a.Cfg, a.peers
	var wc wxpay.Config
	if a.Sims != nil {
		k := a.Sims.Keys
		wc = wxpay.Config{AppID: k.AppID, MchID: k.MchID, MchCertSerial: k.MerchantSerial, MchPrivateKey: k.MerchantKey,
			APIv3Key: k.APIv3Key, PublicKeyID: k.PublicKeyID, PublicKey: &k.PlatformKey.PublicKey}
	} else {
		priv, err := wxpay.LoadPrivateKeyFile(p.Pay.MchPrivateKeyFile)
		if err != nil {
			return fmt.Errorf("WECHATPAY_MCH_PRIVATE_KEY_FILE: %w", err)
		}
		pub, err := wxpay.LoadPublicKeyFile(p.Pay.PublicKeyFile)
		if err != nil {
			return fmt.Errorf("WECHATPAY_PUBLIC_KEY_FILE: %w", err)
		}
		wc = wxpay.Config{AppID: p.WeChat.AppID, MchID: p.Pay.MchID, MchCertSerial: p.Pay.MchCertSerial,
			MchPrivateKey: priv, APIv3Key: p.Pay.APIv3Key, PublicKeyID: p.Pay.PublicKeyID, PublicKey: pub}
		if p.Pay.PlatformCertFile != "" {
			cert, err := wxpay.LoadCertificateFile(p.Pay.PlatformCertFile)
			if err != nil {
				return fmt.Errorf("WECHATPAY_PLATFORM_CERT_FILE: %w", err)
			}
			wc.PlatformCerts = append(wc.PlatformCerts, cert)
		}
	}
	if p.Pay.APIBase != "" && p.Pay.APIBase != config.WeChatPayAPIHost {
		wc.APIBase = p.Pay.APIBase
	}
	wc.NotifyURL = cfg.NotifyURL()
	var err error
	if a.Pay, err = wxpay.New(wc, a.Clock); err != nil {
		return fmt.Errorf("wechat pay: %w", err)
	}
	if a.Notify, err = wxpay.NewNotifyParserFromConfig(wc, a.Clock); err != nil {
		return fmt.Errorf("wechat pay notify: %w", err)
	}
	pc := platform.Config{Default: platform.Credentials{AppID: p.Platform.AppID, Secret: p.Platform.Secret, BaseURL: p.Platform.BaseURL},
		Regions: map[string]platform.Credentials{}}
	for code, r := range p.Platform.Regions {
		pc.Regions[code] = platform.Credentials{AppID: r.AppID, Secret: r.Secret, BaseURL: r.BaseURL}
	}
	a.platformCfg = pc
	if a.Platform, err = platform.NewClient(pc, a.Clock, nil, a.Log.With("component", "platform")); err != nil {
		return fmt.Errorf("PLATFORM_*: %w", err)
	}
	return nil
}
