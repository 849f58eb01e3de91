package config_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/shebao/sipay/config"
)

// productionEnv is a complete SIMULATOR=off environment with an http
// loopback PUBLIC_BASE_URL.
func productionEnv(tb testing.TB, extra map[string]string) map[string]string {
	tb.Helper()
	m := map[string]string{"SIMULATOR": "off", "WECHAT_APPID": "wx1", "WECHAT_SECRET": "s", "WECHATPAY_MCHID": "1900000001",
		"WECHATPAY_MCH_CERT_SERIAL": "AB", "WECHATPAY_MCH_PRIVATE_KEY_FILE": "k.pem", "WECHATPAY_APIV3_KEY": strings.Repeat("k", 32),
		"WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_1", "WECHATPAY_PUBLIC_KEY_FILE": "p.pem",
		"PII_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32)), "PLATFORM_BASE_URL": "http://127.0.0.1:9",
		"PLATFORM_SECRET": "x", "ADMIN_TOKEN": "t", "PUBLIC_BASE_URL": "http://127.0.0.1:18080", "ALLOW_DEV_BACKENDS": "on"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestLoad_InsecureNotifyURL(t *testing.T) {
	t.Run("RefusedByDefault", func(t *testing.T) {
		_, err := config.Load(envOf(productionEnv(t, nil)))
		if err == nil || !strings.Contains(err.Error(), "PUBLIC_BASE_URL") {
			t.Fatalf("err=%v, want PUBLIC_BASE_URL refused", err)
		}
	})
	t.Run("AllowedOnLoopbackWithEscapeHatch", func(t *testing.T) {
		c, err := config.Load(envOf(productionEnv(t, map[string]string{"ALLOW_INSECURE_NOTIFY_URL": "on"})))
		if err != nil || c.NotifyURL() != "http://127.0.0.1:18080/api/v1/wxpay/notify" {
			t.Fatalf("got %v, want the http loopback notify URL accepted", err)
		}
	})
	t.Run("RefusedOffLoopbackEvenWithEscapeHatch", func(t *testing.T) {
		_, err := config.Load(envOf(productionEnv(t, map[string]string{"ALLOW_INSECURE_NOTIFY_URL": "on", "PUBLIC_BASE_URL": "http://pay.example.com"})))
		if err == nil || !strings.Contains(err.Error(), "PUBLIC_BASE_URL") {
			t.Fatalf("err=%v, want a non-loopback http URL refused", err)
		}
	})
}
