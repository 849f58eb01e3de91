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
	t.Run("CredentialsTurnSimulatorOff", func(t *testing.T) {
		_, err := config.Load(envOf(map[string]string{"WECHAT_APPID": "wx1"}))
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
	c, err := config.Load(envOf(map[string]string{"PLATFORM_BASE_URL": "https://si.example", "PLATFORM_APP_ID": "app",
		"PLATFORM_REGIONS": "guangdong-shenzhen", "PLATFORM_GUANGDONG_SHENZHEN_SECRET": "s1",
		"PLATFORM_GUANGDONG_SHENZHEN_BASE_URL": "https://sz.example/"}))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Platform.Regions["guangdong-shenzhen"]
	if want := (config.PlatformRegion{BaseURL: "https://sz.example", AppID: "app", Secret: "s1"}); got != want {
		t.Fatalf("region = %+v, want %+v", got, want)
	}
	_, err = config.Load(envOf(map[string]string{"PLATFORM_REGIONS": "beijing"}))
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
