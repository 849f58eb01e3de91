package config_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/shebao/sipay/config"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	t.Run("DefaultsAreSimulator", func(t *testing.T) {
		c, err := config.Load(envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		if !c.Simulator || c.HTTPAddr != ":8080" || c.MySQLDSN != "" || !c.AutoMigrate {
			t.Fatalf("got %+v, want simulator defaults", c)
		}
	})
	t.Run("CredentialsNeedSimulatorOffThenNameMissing", func(t *testing.T) {
		_, err := config.Load(envOf(map[string]string{"WECHAT_APPID": "wx1", "SIMULATOR": "off"}))
		if err == nil || !strings.Contains(err.Error(), "WECHAT_SECRET") || !strings.Contains(err.Error(), "PII_KEY") {
			t.Fatalf("err=%v, want missing production variables named", err)
		}
	})
	t.Run("BadValuesNamed", func(t *testing.T) {
		for name, val := range map[string]string{"PII_KEY": "short", "SESSION_TTL": "forever", "REDIS_DB": "99",
			"SIMULATOR": "maybe", "PUBLIC_BASE_URL": "ftp://x", "WECHATPAY_APIV3_KEY": "abc",
			"PII_OLD_KEYS": "AAAA", "VOUCHER_KEY": "nope", "TRUSTED_PROXIES": "10.0.0.0/8,not-a-cidr"} {
			_, err := config.Load(envOf(map[string]string{name: val}))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("%s=%q: err=%v, want an error naming %s", name, val, err, name)
			}
		}
	})
	t.Run("SecretsMasked", func(t *testing.T) {
		key := base64.StdEncoding.EncodeToString(make([]byte, 32))
		c, err := config.Load(envOf(map[string]string{"PII_KEY": key, "MYSQL_DSN": "u:hunter2@tcp(h:3306)/db", "WECHAT_SECRET": "s3cr3t", "SIMULATOR": "on"}))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, f := range c.Fields() {
			b.WriteString(f.(string) + " ")
		}
		for _, secret := range []string{key, "hunter2", "s3cr3t"} {
			if strings.Contains(b.String(), secret) {
				t.Fatalf("logged config contains %q: %s", secret, b.String())
			}
		}
	})
}

func TestPlatformRegions(t *testing.T) {
	c, err := config.Load(envOf(productionEnv(t, map[string]string{"PLATFORM_BASE_URL": "https://si.example", "PLATFORM_APP_ID": "app",
		"PLATFORM_REGIONS": "guangdong-shenzhen", "PLATFORM_GUANGDONG_SHENZHEN_SECRET": "s1",
		"PLATFORM_GUANGDONG_SHENZHEN_BASE_URL": "https://sz.example/", "PUBLIC_BASE_URL": "https://pay.example"})))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Platform.Regions["guangdong-shenzhen"]
	if want := (config.PlatformRegion{BaseURL: "https://sz.example", AppID: "app", Secret: "s1"}); got != want {
		t.Fatalf("region = %+v, want %+v", got, want)
	}
	_, err = config.Load(envOf(productionEnv(t, map[string]string{"PLATFORM_REGIONS": "beijing", "PUBLIC_BASE_URL": "https://pay.example"})))
	if err == nil || !strings.Contains(err.Error(), "PLATFORM_BEIJING_SECRET") {
		t.Fatalf("err=%v, want it to name PLATFORM_BEIJING_SECRET", err)
	}
}

func TestQuoteRequireSourced(t *testing.T) {
	c, err := config.Load(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.QuoteRequireSourced {
		t.Fatalf("simulator: got QuoteRequireSourced on, want off by default")
	}
	c, err = config.Load(envOf(map[string]string{"QUOTE_REQUIRE_SOURCED": "on"}))
	if err != nil || !c.QuoteRequireSourced {
		t.Fatalf("QUOTE_REQUIRE_SOURCED=on: got %v %v, want on", c.QuoteRequireSourced, err)
	}
	if _, err := config.Load(envOf(map[string]string{"QUOTE_REQUIRE_SOURCED": "maybe"})); err == nil || !strings.Contains(err.Error(), "QUOTE_REQUIRE_SOURCED") {
		t.Fatalf("got %v, want an error naming QUOTE_REQUIRE_SOURCED", err)
	}
}

// TestLoad_FailClosed: simulator mode is never chosen silently when a
// production setting is present, and SIMULATOR=off refuses the development
// backends unless ALLOW_DEV_BACKENDS=on says so.
func TestLoad_FailClosed(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	t.Run("NoProductionSettingDefaultsToSimulator", func(t *testing.T) {
		c, err := config.Load(envOf(map[string]string{"PUBLIC_BASE_URL": "http://127.0.0.1:8080"}))
		if err != nil || !c.Simulator {
			t.Fatalf("got %v, simulator=%v; want simulator mode", err, c != nil && c.Simulator)
		}
	})
	for _, set := range []map[string]string{
		{"WECHATPAY_MCH_PRIVATE_KEY_FILE": "/etc/sipay/apiclient_key.pem"},
		{"WECHATPAY_PUBLIC_KEY_FILE": "/etc/sipay/pub.pem"},
		{"PII_KEY": key},
		{"PLATFORM_SECRET": "p"},
		{"PLATFORM_BASE_URL": "https://si.example"},
		{"PUBLIC_BASE_URL": "https://pay.example.com"},
		{"ADMIN_TOKEN": "t"},
	} {
		for k := range set {
			t.Run("ProductionSettingRequiresExplicitSimulator/"+k, func(t *testing.T) {
				_, err := config.Load(envOf(set))
				if err == nil || !strings.Contains(err.Error(), "SIMULATOR: must be set explicitly") || !strings.Contains(err.Error(), k) {
					t.Fatalf("err=%v, want SIMULATOR required naming %s", err, k)
				}
				on := map[string]string{"SIMULATOR": "on"}
				for kk, v := range set {
					on[kk] = v
				}
				if c, err := config.Load(envOf(on)); err != nil || !c.Simulator {
					t.Fatalf("explicit SIMULATOR=on: %v", err)
				}
			})
		}
	}
	prod := func(extra map[string]string) map[string]string {
		m := productionEnv(t, map[string]string{"PUBLIC_BASE_URL": "https://pay.example", "PLATFORM_BASE_URL": "https://si.example",
			"MYSQL_DSN": "u:p@tcp(db:3306)/sipay", "REDIS_ADDR": "redis:6379"})
		delete(m, "ALLOW_DEV_BACKENDS")
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	if _, err := config.Load(envOf(prod(nil))); err != nil {
		t.Fatalf("complete production environment: %v", err)
	}
	for name, c := range map[string]struct {
		extra map[string]string
		want  string
	}{
		"SQLite":       {map[string]string{"MYSQL_DSN": ""}, "MYSQL_DSN"},
		"InProcRedis":  {map[string]string{"REDIS_ADDR": ""}, "REDIS_ADDR"},
		"HTTPWeChat":   {map[string]string{"WECHAT_API_BASE": "http://wx.example"}, "WECHAT_API_BASE"},
		"HTTPPay":      {map[string]string{"WECHATPAY_API_BASE": "http://pay.example"}, "WECHATPAY_API_BASE"},
		"HTTPPlatform": {map[string]string{"PLATFORM_BASE_URL": "http://si.example"}, "PLATFORM_BASE_URL"},
		"HTTPRegion":   {map[string]string{"PLATFORM_REGIONS": "beijing", "PLATFORM_BEIJING_SECRET": "s", "PLATFORM_BEIJING_BASE_URL": "http://bj.example"}, "PLATFORM_BEIJING_BASE_URL"},
	} {
		t.Run("Off/"+name, func(t *testing.T) {
			if _, err := config.Load(envOf(prod(c.extra))); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err=%v, want %s refused", err, c.want)
			}
			c.extra["ALLOW_DEV_BACKENDS"] = "on"
			if _, err := config.Load(envOf(prod(c.extra))); err != nil {
				t.Fatalf("with ALLOW_DEV_BACKENDS=on: %v", err)
			}
		})
	}
	t.Run("RegionsRefusedInSimulator", func(t *testing.T) {
		_, err := config.Load(envOf(map[string]string{"SIMULATOR": "on", "PLATFORM_REGIONS": "beijing", "PLATFORM_BEIJING_SECRET": "s"}))
		if err == nil || !strings.Contains(err.Error(), "PLATFORM_REGIONS") {
			t.Fatalf("err=%v, want PLATFORM_REGIONS refused", err)
		}
	})
	t.Run("TrustedProxiesLoopbackOnly", func(t *testing.T) {
		c, err := config.Load(envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(c.TrustedProxies, ","); got != "127.0.0.0/8,::1/128" {
			t.Fatalf("TRUSTED_PROXIES default %s, want loopback only", got)
		}
	})
}
