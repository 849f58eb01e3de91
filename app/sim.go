package app

import (
	"fmt"
	"path/filepath"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/sim"
	"github.com/shebao/sipay/wxpay"
)

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
	s := sim.NewStack(sim.StackConfig{Keys: keys, WeChatSecret: cfg.WeChat.Secret,
		Platform:     platform.Credentials{AppID: simPlatformAppID, Secret: simPlatformSecret},
		CallbackBase: cfg.PublicBaseURL, Clock: a.Clock, Logger: a.Log})
	a.closers = append(a.closers, s.Stop)
	srv, err := sim.Start("127.0.0.1:0", s)
	if err != nil {
		return fmt.Errorf("start simulator: %w", err)
	}
	a.closers = append(a.closers, func() { srv.Close() })
	a.SimURL, a.Sims = srv.URL, s
	front := srv.URL
	if a.opts.SimFront != nil {
		front = a.opts.SimFront(srv.URL)
	}
	cfg.WeChat.APIBase = front
	cfg.Pay.APIBase = front
	cfg.Pay.MchID = keys.MchID
	cfg.Pay.APIv3Key = keys.APIv3Key // so the log scrubber knows it (config.Secrets)
	cfg.Platform.BaseURL = front
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
