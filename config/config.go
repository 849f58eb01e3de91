// Package config loads the service configuration from environment variables
// once, in main, validates it and prints it with secrets masked.
package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shebao/sipay/service"
)

// Config is the whole configuration. Sub-structs are passed to constructors.
type Config struct {
	HTTPAddr      string
	PublicBaseURL string
	DataDir       string
	MySQLDSN      string
	AutoMigrate   bool // apply embedded migrations at start
	Redis         Redis
	WeChat        WeChat
	Pay           Pay
	Simulator     bool
	PIIKey        string // base64 32 bytes
	// PIIOldKeys still decrypt (and are re-encrypted under PIIKey on write)
	// during a key rotation.
	PIIOldKeys []string
	// VoucherKey signs voucher verification codes; empty derives it from
	// PIIKey. Set it before rotating PII_KEY, or printed codes stop verifying.
	VoucherKey string
	// EvidenceKey (EVIDENCE_SIGNING_KEY) is the base64 32-byte Ed25519
	// seed signing the evidence log's tree heads; generated into DATA_DIR
	// with the simulator, and the log is off without it otherwise.
	EvidenceKey string
	// TrustedProxies are the CIDRs whose X-Forwarded-For names the client.
	TrustedProxies []string
	AdminToken     string
	SessionTTL     time.Duration
	QuoteTTL       time.Duration
	// QuoteRequireSourced refuses quotes resting on an illustrative
	// (placeholder or derived) figure of the region data. Default on, off
	// in the simulator.
	QuoteRequireSourced bool
	OrderTTL            time.Duration // time_expire of a batch after prepay
	LogLevel            string
	// LogFormat is "text" (readable, the default with the simulator) or
	// "json" (one object per line, the default otherwise).
	LogFormat string
	// MetricsAddr is the listen address of the Prometheus /metrics endpoint,
	// apart from the API's; empty (the default) turns it off.
	MetricsAddr string
	Platform    Platform
	Face        Face
	Workers     bool // run background workers in this process
	// Hold are the risk-hold rules (HOLD_*).
	Hold service.HoldRules
	// Help are the customer-service settings (HELP_HOURS,
	// SUBSCRIBE_TEMPLATES, LAPSE_REMIND_DAYS).
	Help service.HelpSettings
	// StepUp configures step-up verification of held payments (HOLD_STEPUP*).
	StepUp service.StepUpConfig
	// Ops configures the operations console (OPS_*).
	Ops Ops
}

// Redis configures the Redis client; an empty Addr (and no Addrs) means
// in-process Redis. Addrs with MasterName is a Sentinel setup, Addrs without
// it a Cluster (or a single node when it holds one address).
type Redis struct {
	Addr       string
	Addrs      []string
	MasterName string
	Password   string
	DB         int
}

// WeChat configures the mini-program APIs.
type WeChat struct {
	AppID   string
	Secret  string
	APIBase string
}

// Pay configures WeChat Pay v3.
type Pay struct {
	MchID             string
	MchCertSerial     string
	MchPrivateKeyFile string
	APIv3Key          string
	PublicKeyID       string
	PublicKeyFile     string
	PlatformCertFile  string
	APIBase           string
	// PayScoreServiceID and PayScoreAPIv2Key enable credit pay (WeChat Pay
	// Score); both empty leaves it off outside the simulator.
	PayScoreServiceID string
	PayScoreAPIv2Key  string
}

// Platform configures the provincial platforms: one default credential set
// and optional per-region overrides (PLATFORM_<REGION>_APP_ID, ...).
type Platform struct {
	BaseURL string
	AppID   string
	Secret  string
	Regions map[string]PlatformRegion
}

// PlatformRegion is one region's platform credentials.
type PlatformRegion struct {
	BaseURL string
	AppID   string
	Secret  string
}

// Face configures face verification.
type Face struct {
	LegacyV1      bool // also offer the 1.0 flow (verify_result → identify/getinfo)
	DailyAttempts int
}

// Real hosts the base-URL settings stand in for.
const (
	WeChatAPIHost    = "https://api.weixin.qq.com"
	WeChatPayAPIHost = "https://api.mch.weixin.qq.com"
)

// Load reads the configuration from getenv and validates it. Errors name the
// variable.
func Load(getenv func(string) string) (*Config, error) {
	env := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		HTTPAddr:      env("HTTP_ADDR", ":8080"),
		PublicBaseURL: strings.TrimRight(env("PUBLIC_BASE_URL", "http://127.0.0.1:8080"), "/"),
		DataDir:       env("DATA_DIR", "./data"),
		MySQLDSN:      env("MYSQL_DSN", ""),
		Redis: Redis{
			Addr:       env("REDIS_ADDR", ""),
			Addrs:      splitList(env("REDIS_ADDRS", "")),
			MasterName: env("REDIS_MASTER_NAME", ""),
			Password:   env("REDIS_PASSWORD", ""),
		},
		WeChat: WeChat{
			AppID:   env("WECHAT_APPID", ""),
			Secret:  env("WECHAT_SECRET", ""),
			APIBase: strings.TrimRight(env("WECHAT_API_BASE", WeChatAPIHost), "/"),
		},
		Pay: Pay{
			MchID:             env("WECHATPAY_MCHID", ""),
			MchCertSerial:     env("WECHATPAY_MCH_CERT_SERIAL", ""),
			MchPrivateKeyFile: env("WECHATPAY_MCH_PRIVATE_KEY_FILE", ""),
			APIv3Key:          env("WECHATPAY_APIV3_KEY", ""),
			PublicKeyID:       env("WECHATPAY_PUBLIC_KEY_ID", ""),
			PublicKeyFile:     env("WECHATPAY_PUBLIC_KEY_FILE", ""),
			PlatformCertFile:  env("WECHATPAY_PLATFORM_CERT_FILE", ""),
			APIBase:           strings.TrimRight(env("WECHATPAY_API_BASE", WeChatPayAPIHost), "/"),
			PayScoreServiceID: env("PAYSCORE_SERVICE_ID", ""),
			PayScoreAPIv2Key:  env("PAYSCORE_APIV2_KEY", ""),
		},
		PIIKey:      env("PII_KEY", ""),
		VoucherKey:  env("VOUCHER_KEY", ""),
		EvidenceKey: env("EVIDENCE_SIGNING_KEY", ""),
		AdminToken:  env("ADMIN_TOKEN", ""),
		LogLevel:    env("LOG_LEVEL", "info"),
		Platform: Platform{
			BaseURL: strings.TrimRight(env("PLATFORM_BASE_URL", ""), "/"),
			AppID:   env("PLATFORM_APP_ID", ""),
			Secret:  env("PLATFORM_SECRET", ""),
			Regions: map[string]PlatformRegion{},
		},
	}
	var errs []string
	bad := func(name, format string, args ...any) {
		errs = append(errs, name+": "+fmt.Sprintf(format, args...))
	}
	parseBool := func(name string, def bool) bool {
		v := env(name, "")
		switch strings.ToLower(v) {
		case "":
			return def
		case "on", "true", "1", "yes":
			return true
		case "off", "false", "0", "no":
			return false
		}
		bad(name, "want on or off, got %q", v)
		return def
	}
	parseDur := func(name string, def time.Duration) time.Duration {
		v := env(name, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(name, "want a positive duration such as 30m, got %q", v)
			return def
		}
		return d
	}
	parseInt := func(name string, def, min, max int) int {
		v := env(name, "")
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			bad(name, "want an integer in [%d, %d], got %q", min, max, v)
			return def
		}
		return n
	}
	c.Redis.DB = parseInt("REDIS_DB", 0, 0, 15)
	c.SessionTTL = parseDur("SESSION_TTL", 7*24*time.Hour)
	c.QuoteTTL = parseDur("QUOTE_TTL", 30*time.Minute)
	c.OrderTTL = parseDur("ORDER_TTL", 30*time.Minute)
	c.Face.DailyAttempts = parseInt("FACE_DAILY_ATTEMPTS", 5, 1, 100)
	c.Face.LegacyV1 = parseBool("FACE_LEGACY_V1", false)
	c.Workers = parseBool("WORKERS", true)
	c.Ops = parseOps(env, bad)
	c.Hold = parseHold(env, bad)
	c.Help = parseHelp(env, bad)
	c.StepUp = parseStepUp(env, bad)

	// Fail closed: simulator mode (any login code logs in, dev admin token,
	// a movable clock) is the default only when no production setting is
	// present. With one present, SIMULATOR must be said explicitly.
	prod := ProductionSettings(getenv)
	if env("SIMULATOR", "") == "" && len(prod) > 0 {
		return nil, fmt.Errorf("configuration: SIMULATOR: must be set explicitly (off for production, on for development) because production settings are present: %s", strings.Join(prod, ", "))
	}
	c.Simulator = parseBool("SIMULATOR", len(prod) == 0)
	c.AutoMigrate = parseBool("AUTO_MIGRATE", c.MySQLDSN == "" || c.Simulator)
	c.QuoteRequireSourced = parseBool("QUOTE_REQUIRE_SOURCED", !c.Simulator)
	defFormat := "json"
	if c.Simulator {
		defFormat = "text"
	}
	c.LogFormat = strings.ToLower(env("LOG_FORMAT", defFormat))
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("LOG_FORMAT", "want json or text, got %q", c.LogFormat)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "want debug, info, warn or error, got %q", c.LogLevel)
	}
	c.MetricsAddr = env("METRICS_ADDR", "")
	if strings.EqualFold(c.MetricsAddr, "off") {
		c.MetricsAddr = ""
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("METRICS_ADDR", "want host:port such as :9091 (or off), got %q", c.MetricsAddr)
		}
	}
	if c.Redis.Addr != "" && len(c.Redis.Addrs) > 0 {
		bad("REDIS_ADDRS", "set either REDIS_ADDR or REDIS_ADDRS, not both")
	}
	if c.Redis.MasterName != "" && len(c.Redis.Addrs) == 0 {
		bad("REDIS_MASTER_NAME", "needs the Sentinel addresses in REDIS_ADDRS")
	}
	if len(c.Redis.Addrs) > 1 && c.Redis.MasterName == "" && c.Redis.DB != 0 {
		bad("REDIS_DB", "Redis Cluster has only database 0")
	}

	for _, kv := range []struct{ name, v string }{{"PUBLIC_BASE_URL", c.PublicBaseURL}, {"WECHAT_API_BASE", c.WeChat.APIBase}, {"WECHATPAY_API_BASE", c.Pay.APIBase}} {
		if u, err := url.Parse(kv.v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(kv.name, "want an absolute http(s) URL, got %q", kv.v)
		}
	}
	key32 := func(name, v string) {
		if k, err := base64.StdEncoding.DecodeString(v); err != nil || len(k) != 32 {
			bad(name, "want base64 of exactly 32 bytes")
		}
	}
	if c.PIIKey != "" {
		key32("PII_KEY", c.PIIKey)
	}
	if c.VoucherKey != "" {
		key32("VOUCHER_KEY", c.VoucherKey)
	}
	if c.EvidenceKey != "" {
		key32("EVIDENCE_SIGNING_KEY", c.EvidenceKey)
	}
	for _, k := range splitList(env("PII_OLD_KEYS", "")) {
		key32("PII_OLD_KEYS", k)
		c.PIIOldKeys = append(c.PIIOldKeys, k)
	}
	// Loopback only by default: behind a load balancer, list its addresses
	// (README), or any private-network peer could name any client and
	// reset the per-IP limits.
	c.TrustedProxies = splitList(env("TRUSTED_PROXIES", "127.0.0.0/8,::1/128"))
	for _, cidr := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			bad("TRUSTED_PROXIES", "want comma-separated CIDRs, got %q", cidr)
		}
	}
	if (c.Pay.PayScoreServiceID == "") != (c.Pay.PayScoreAPIv2Key == "") {
		bad("PAYSCORE_SERVICE_ID", "set it together with PAYSCORE_APIV2_KEY (credit pay needs both), or neither")
	}
	if c.Pay.APIv3Key != "" && len(c.Pay.APIv3Key) != 32 {
		bad("WECHATPAY_APIV3_KEY", "want exactly 32 characters, got %d", len(c.Pay.APIv3Key))
	}
	if !c.Simulator {
		for _, kv := range []struct{ name, v string }{
			{"WECHAT_APPID", c.WeChat.AppID}, {"WECHAT_SECRET", c.WeChat.Secret},
			{"WECHATPAY_MCHID", c.Pay.MchID}, {"WECHATPAY_MCH_CERT_SERIAL", c.Pay.MchCertSerial},
			{"WECHATPAY_MCH_PRIVATE_KEY_FILE", c.Pay.MchPrivateKeyFile}, {"WECHATPAY_APIV3_KEY", c.Pay.APIv3Key},
			{"WECHATPAY_PUBLIC_KEY_ID", c.Pay.PublicKeyID}, {"WECHATPAY_PUBLIC_KEY_FILE", c.Pay.PublicKeyFile},
			{"PII_KEY", c.PIIKey}, {"PLATFORM_BASE_URL", c.Platform.BaseURL}, {"PLATFORM_SECRET", c.Platform.Secret},
			{"ADMIN_TOKEN", c.AdminToken},
		} {
			if kv.v == "" {
				bad(kv.name, "required when SIMULATOR is off")
			}
		}
		// ALLOW_DEV_BACKENDS=on accepts SQLite, the in-process Redis and
		// http:// client base URLs with SIMULATOR=off, for fault-injection
		// runs against external simulators (cmd/chaos) and local trials.
		if !parseBool("ALLOW_DEV_BACKENDS", false) {
			if c.MySQLDSN == "" {
				bad("MYSQL_DSN", "required when SIMULATOR is off (the embedded SQLite is for development; ALLOW_DEV_BACKENDS=on overrides)")
			}
			if c.Redis.Addr == "" {
				bad("REDIS_ADDR", "required when SIMULATOR is off (the in-process Redis is for development; ALLOW_DEV_BACKENDS=on overrides)")
			}
			for _, kv := range []struct{ name, v string }{{"WECHAT_API_BASE", c.WeChat.APIBase}, {"WECHATPAY_API_BASE", c.Pay.APIBase}, {"PLATFORM_BASE_URL", c.Platform.BaseURL}} {
				if strings.HasPrefix(strings.ToLower(kv.v), "http://") {
					bad(kv.name, "want an https URL when SIMULATOR is off, got %q (ALLOW_DEV_BACKENDS=on overrides)", kv.v)
				}
			}
		}
		// ALLOW_INSECURE_NOTIFY_URL=on accepts an http loopback URL, for
		// fault-injection runs against external simulators (cmd/chaos).
		if strings.HasPrefix(c.PublicBaseURL, "http://") && !(parseBool("ALLOW_INSECURE_NOTIFY_URL", false) && isLoopbackURL(c.PublicBaseURL)) {
			bad("PUBLIC_BASE_URL", "WeChat Pay requires an https notify_url when SIMULATOR is off")
		}
	}
	// Per-region platform overrides: PLATFORM_REGIONS lists the region
	// codes; each reads PLATFORM_<CODE>_BASE_URL/_APP_ID/_SECRET with the
	// code upper-cased and '-' written as '_', falling back to the default
	// endpoint and app id. A listed region must have its own secret.
	if c.Simulator && env("PLATFORM_REGIONS", "") != "" {
		bad("PLATFORM_REGIONS", "not used with SIMULATOR=on (the simulated platform has one credential set); unset it or set SIMULATOR=off")
	}
	for _, region := range splitList(env("PLATFORM_REGIONS", "")) {
		pre := "PLATFORM_" + strings.ToUpper(strings.ReplaceAll(region, "-", "_")) + "_"
		r := PlatformRegion{
			BaseURL: strings.TrimRight(env(pre+"BASE_URL", c.Platform.BaseURL), "/"),
			AppID:   env(pre+"APP_ID", c.Platform.AppID),
			Secret:  env(pre+"SECRET", ""),
		}
		if r.Secret == "" {
			bad(pre+"SECRET", "required for region %s listed in PLATFORM_REGIONS", region)
		}
		if !c.Simulator && strings.HasPrefix(strings.ToLower(r.BaseURL), "http://") && !parseBool("ALLOW_DEV_BACKENDS", false) {
			bad(pre+"BASE_URL", "want an https URL when SIMULATOR is off, got %q (ALLOW_DEV_BACKENDS=on overrides)", r.BaseURL)
		}
		c.Platform.Regions[region] = r
	}
	if c.Simulator && c.AdminToken == "" {
		c.AdminToken = "dev-admin-token"
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// ProductionSettings lists the set production-only settings: any of them
// means the operator meant a real deployment, so simulator mode is never
// chosen silently. docs/operations.md lists them.
func ProductionSettings(getenv func(string) string) []string {
	var out []string
	for _, k := range []string{"WECHAT_APPID", "WECHAT_SECRET", "WECHATPAY_MCHID", "WECHATPAY_MCH_CERT_SERIAL",
		"WECHATPAY_MCH_PRIVATE_KEY_FILE", "WECHATPAY_APIV3_KEY", "WECHATPAY_PUBLIC_KEY_ID", "WECHATPAY_PUBLIC_KEY_FILE",
		"WECHATPAY_PLATFORM_CERT_FILE", "PII_KEY", "PII_OLD_KEYS", "VOUCHER_KEY", "PLATFORM_BASE_URL", "PLATFORM_APP_ID",
		"PLATFORM_SECRET", "PLATFORM_REGIONS", "ADMIN_TOKEN", "EVIDENCE_SIGNING_KEY"} {
		if strings.TrimSpace(getenv(k)) != "" {
			out = append(out, k)
		}
	}
	if u := strings.ToLower(strings.TrimSpace(getenv("PUBLIC_BASE_URL"))); strings.HasPrefix(u, "https://") {
		out = append(out, "PUBLIC_BASE_URL (https)")
	}
	return out
}

// Secrets returns every configured secret value, for the log scrubber
// (redact). It reads the current values, so credentials filled in later
// (the simulator's) count.
func (c *Config) Secrets() []string {
	out := []string{c.WeChat.Secret, c.Pay.APIv3Key, c.Pay.PayScoreAPIv2Key, c.Platform.Secret, c.PIIKey, c.VoucherKey, c.EvidenceKey, c.AdminToken, c.Redis.Password}
	out = append(out, c.PIIOldKeys...)
	for _, r := range c.Platform.Regions {
		out = append(out, r.Secret)
	}
	if at := strings.LastIndex(c.MySQLDSN, "@"); at > 0 {
		if _, pass, ok := strings.Cut(c.MySQLDSN[:at], ":"); ok {
			out = append(out, pass)
		}
	}
	return out
}

// isLoopbackURL reports whether u's host is 127.0.0.1, ::1 or localhost.
func isLoopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := p.Hostname()
	return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.")
}

// SQLitePath is the embedded database file under DataDir.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "sipay.db") }

// NotifyURL is the WeChat Pay notify_url.
func (c *Config) NotifyURL() string { return c.PublicBaseURL + "/api/v1/wxpay/notify" }

// Fields returns the effective configuration as name/value pairs with
// secrets masked, for the start-up log.
func (c *Config) Fields() []any {
	m := map[string]string{
		"HTTP_ADDR": c.HTTPAddr, "PUBLIC_BASE_URL": c.PublicBaseURL, "DATA_DIR": c.DataDir,
		"MYSQL_DSN": maskDSN(c.MySQLDSN), "REDIS_ADDR": c.Redis.Addr, "REDIS_ADDRS": strings.Join(c.Redis.Addrs, ","), "REDIS_MASTER_NAME": c.Redis.MasterName, "REDIS_PASSWORD": mask(c.Redis.Password),
		"REDIS_DB": strconv.Itoa(c.Redis.DB), "WECHAT_APPID": c.WeChat.AppID, "WECHAT_SECRET": mask(c.WeChat.Secret),
		"WECHAT_API_BASE": c.WeChat.APIBase, "WECHATPAY_MCHID": c.Pay.MchID, "WECHATPAY_MCH_CERT_SERIAL": c.Pay.MchCertSerial,
		"WECHATPAY_MCH_PRIVATE_KEY_FILE": c.Pay.MchPrivateKeyFile, "WECHATPAY_APIV3_KEY": mask(c.Pay.APIv3Key),
		"WECHATPAY_PUBLIC_KEY_ID": c.Pay.PublicKeyID, "WECHATPAY_PUBLIC_KEY_FILE": c.Pay.PublicKeyFile,
		"WECHATPAY_PLATFORM_CERT_FILE": c.Pay.PlatformCertFile, "WECHATPAY_API_BASE": c.Pay.APIBase,
		"PAYSCORE_SERVICE_ID": c.Pay.PayScoreServiceID, "PAYSCORE_APIV2_KEY": mask(c.Pay.PayScoreAPIv2Key),
		"SIMULATOR": onOff(c.Simulator), "PII_KEY": mask(c.PIIKey), "PII_OLD_KEYS": strconv.Itoa(len(c.PIIOldKeys)) + " key(s)", "VOUCHER_KEY": mask(c.VoucherKey), "EVIDENCE_SIGNING_KEY": mask(c.EvidenceKey),
		"TRUSTED_PROXIES": strings.Join(c.TrustedProxies, ","), "ADMIN_TOKEN": mask(c.AdminToken),
		"SESSION_TTL": c.SessionTTL.String(), "QUOTE_TTL": c.QuoteTTL.String(), "QUOTE_REQUIRE_SOURCED": onOff(c.QuoteRequireSourced), "ORDER_TTL": c.OrderTTL.String(),
		"AUTO_MIGRATE": onOff(c.AutoMigrate), "WORKERS": onOff(c.Workers), "FACE_LEGACY_V1": onOff(c.Face.LegacyV1),
		"FACE_DAILY_ATTEMPTS": strconv.Itoa(c.Face.DailyAttempts), "PLATFORM_BASE_URL": c.Platform.BaseURL,
		"PLATFORM_APP_ID": c.Platform.AppID, "PLATFORM_SECRET": mask(c.Platform.Secret), "PLATFORM_REGIONS": strings.Join(sortedKeys(c.Platform.Regions), ","), "LOG_LEVEL": c.LogLevel,
		"LOG_FORMAT": c.LogFormat, "METRICS_ADDR": c.MetricsAddr,
	}
	m["OPS_OPERATORS"], m["OPS_SESSION_IDLE"] = strings.Join(sortedKeys(c.Ops.Operators), ","), c.Ops.SessionIdle.String()
	for k, v := range holdFields(c.Hold) {
		m[k] = v
	}
	for k, v := range helpFields(c.Help) {
		m[k] = v
	}
	for k, v := range stepUpFields(c.StepUp) {
		m[k] = v
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		out = append(out, k, m[k])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// splitList splits a comma-separated setting, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func mask(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

// maskDSN hides the password of a go-sql-driver DSN (user:pass@tcp(...)/db).
func maskDSN(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	if at < 0 {
		return dsn
	}
	cred := dsn[:at]
	if user, _, ok := strings.Cut(cred, ":"); ok {
		return user + ":***" + dsn[at:]
	}
	return dsn
}
