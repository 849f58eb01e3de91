// Command wxsim runs the development simulators — WeChat mini-program APIs
// (login, access tokens, face verification), WeChat Pay v3 and the
// provincial platform — as a standalone server, for docker-compose and
// front-end development. The server runs the same stack in-process when
// SIMULATOR=on.
//
// Environment:
//
//	WXSIM_ADDR        listen address (default :9090)
//	WXSIM_KEYS_DIR    development keys, shared with the server (default ./data/devkeys)
//	WECHAT_SECRET     the mini-program secret to accept (default dev-secret-not-for-production)
//	PLATFORM_APP_ID, PLATFORM_SECRET   platform credentials to accept
//	PUBLIC_BASE_URL   the server, for platform callbacks (optional)
//	WXSIM_SERVER_ENV  write the settings a server with SIMULATOR=off needs
//	                  to use this simulator (WECHAT_*, WECHATPAY_* with key
//	                  files beside it, PLATFORM_*) to this file, in
//	                  `KEY=value` lines for `set -a; . file` (optional)
//	WXSIM_PUBLIC_URL  the simulator's URL as the server reaches it, for that
//	                  file (default http://127.0.0.1:<port>)
//
// The WeChat Pay settings the server needs (WECHATPAY_MCHID, key files, the
// APIv3 key, the public key id) are printed at start.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim"
	"github.com/shebao/sipay/wxpay"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wxsim:", err)
		os.Exit(1)
	}
}

func run() error {
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	dir := env("WXSIM_KEYS_DIR", filepath.Join("data", "devkeys"))
	keys, err := wxpay.LoadOrCreateDevKeys(dir)
	if err != nil {
		return fmt.Errorf("WXSIM_KEYS_DIR: %w", err)
	}
	if id := os.Getenv("WECHAT_APPID"); id != "" {
		keys.AppID = id
	}
	stack := sim.NewStack(sim.StackConfig{Keys: keys, WeChatSecret: env("WECHAT_SECRET", "dev-secret-not-for-production"),
		Platform:     platform.Credentials{AppID: env("PLATFORM_APP_ID", "sipay-dev"), Secret: env("PLATFORM_SECRET", "dev-platform-secret-not-for-production")},
		CallbackBase: os.Getenv("PUBLIC_BASE_URL"), Clock: service.SystemClock{}, Logger: log})
	defer stack.Stop()
	srv, err := sim.Start(env("WXSIM_ADDR", ":9090"), stack)
	if err != nil {
		return err
	}
	defer srv.Close()
	if path := os.Getenv("WXSIM_SERVER_ENV"); path != "" {
		url := env("WXSIM_PUBLIC_URL", srv.URL)
		if err := writeServerEnv(path, url, keys, env("WECHAT_SECRET", "dev-secret-not-for-production"),
			env("PLATFORM_APP_ID", "sipay-dev"), env("PLATFORM_SECRET", "dev-platform-secret-not-for-production")); err != nil {
			return fmt.Errorf("WXSIM_SERVER_ENV: %w", err)
		}
		log.Info("server settings written", "file", path)
	}
	log.Warn("DEVELOPMENT SIMULATOR: not WeChat, not WeChat Pay, not a social-security platform",
		"url", srv.URL, "keys_dir", dir, "WECHAT_APPID", keys.AppID, "WECHATPAY_MCHID", keys.MchID,
		"WECHATPAY_MCH_CERT_SERIAL", keys.MerchantSerial, "WECHATPAY_PUBLIC_KEY_ID", keys.PublicKeyID)
	select {}
}

// writeServerEnv writes the server's settings for this simulator: the
// merchant private key and WeChat Pay public key as PEM files beside path,
// then path itself (renamed into place, so a reader never sees half of it).
func writeServerEnv(path, url string, keys *wxpay.DevKeys, wechatSecret, platformAppID, platformSecret string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	mkPath, pubPath := filepath.Join(dir, "merchant_key.pem"), filepath.Join(dir, "wechatpay_public_key.pem")
	priv, err := wxpay.EncodePrivateKeyPEM(keys.MerchantKey)
	if err != nil {
		return err
	}
	pub, err := wxpay.EncodePublicKeyPEM(&keys.PlatformKey.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(mkPath, priv, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		return err
	}
	lines := []string{
		"# Written by cmd/wxsim (WXSIM_SERVER_ENV): a server with SIMULATOR=off talks to this simulator.",
		"WECHAT_APPID=" + keys.AppID, "WECHAT_SECRET=" + wechatSecret, "WECHAT_API_BASE=" + url,
		"WECHATPAY_MCHID=" + keys.MchID, "WECHATPAY_MCH_CERT_SERIAL=" + keys.MerchantSerial,
		"WECHATPAY_MCH_PRIVATE_KEY_FILE=" + mkPath, "WECHATPAY_APIV3_KEY=" + keys.APIv3Key,
		"WECHATPAY_PUBLIC_KEY_ID=" + keys.PublicKeyID, "WECHATPAY_PUBLIC_KEY_FILE=" + pubPath,
		"WECHATPAY_API_BASE=" + url,
		"PLATFORM_BASE_URL=" + url, "PLATFORM_APP_ID=" + platformAppID, "PLATFORM_SECRET=" + platformSecret,
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
