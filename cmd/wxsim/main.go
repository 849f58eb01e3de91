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
//
// The WeChat Pay settings the server needs (WECHATPAY_MCHID, key files, the
// APIv3 key, the public key id) are printed at start.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

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
	log.Warn("DEVELOPMENT SIMULATOR: not WeChat, not WeChat Pay, not a social-security platform",
		"url", srv.URL, "keys_dir", dir, "WECHAT_APPID", keys.AppID, "WECHATPAY_MCHID", keys.MchID,
		"WECHATPAY_MCH_CERT_SERIAL", keys.MerchantSerial, "WECHATPAY_PUBLIC_KEY_ID", keys.PublicKeyID)
	select {}
}
