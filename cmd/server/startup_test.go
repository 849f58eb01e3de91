package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// TestHelperProcessMain is main() in a child process (startServer).
func TestHelperProcessMain(t *testing.T) {
	if os.Getenv("SIPAY_HELPER_MAIN") != "1" {
		t.Skip("helper process")
	}
	os.Args = []string{"server"}
	main()
	os.Exit(0)
}

// startServer runs main() in a child process with exactly env and returns
// its exit code and stderr.
func startServer(t *testing.T, env map[string]string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessMain$")
	cmd.Env = []string{"SIPAY_HELPER_MAIN=1", "HTTP_ADDR=127.0.0.1:0", "DATA_DIR=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stderr.String()
}

// mustFailStart checks an exit 1 with one "error:" line naming each of
// names, and no panic.
func mustFailStart(t *testing.T, env map[string]string, names ...string) {
	t.Helper()
	code, stderr := startServer(t, env)
	if code != 1 || strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Fatalf("exit %d, want 1 without a panic:\n%s", code, stderr)
	}
	var errLines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, "error: ") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 {
		t.Fatalf("want exactly one error line, got %d:\n%s", len(errLines), stderr)
	}
	for _, n := range names {
		if !strings.Contains(errLines[0], n) {
			t.Fatalf("error line %q does not name %q", errLines[0], n)
		}
	}
}

// productionEnv is a SIMULATOR=off environment whose backends are local
// (ALLOW_DEV_BACKENDS=on) and whose key files exist.
func productionEnv(t *testing.T) map[string]string {
	dir := t.TempDir()
	return map[string]string{"SIMULATOR": "off", "ALLOW_DEV_BACKENDS": "on", "ALLOW_INSECURE_NOTIFY_URL": "on",
		"PUBLIC_BASE_URL": "http://127.0.0.1:18080", "WECHAT_APPID": "wx1", "WECHAT_SECRET": "s", "WECHATPAY_MCHID": "1900000001",
		"WECHATPAY_MCH_CERT_SERIAL": "AB", "WECHATPAY_MCH_PRIVATE_KEY_FILE": filepath.Join(dir, "missing_key.pem"),
		"WECHATPAY_APIV3_KEY": strings.Repeat("k", 32), "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_1",
		"WECHATPAY_PUBLIC_KEY_FILE": filepath.Join(dir, "pub.pem"), "PII_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"PLATFORM_BASE_URL": "https://si.example", "PLATFORM_SECRET": "x", "ADMIN_TOKEN": "t"}
}

// TestStartupErrorsAreOneLine: every start-up failure exits 1 with one
// line naming the setting or the server (app.New used to panic in its
// deferred Close and hide the error).
func TestStartupErrorsAreOneLine(t *testing.T) {
	t.Run("MySQLDown", func(t *testing.T) {
		mustFailStart(t, map[string]string{"MYSQL_DSN": "root@tcp(127.0.0.1:1)/sipay"}, "MYSQL_DSN", "127.0.0.1:1")
	})
	t.Run("RedisDown", func(t *testing.T) {
		mustFailStart(t, map[string]string{"REDIS_ADDR": "127.0.0.1:1"}, "REDIS_ADDR", "127.0.0.1:1")
	})
	t.Run("MissingKeyFile", func(t *testing.T) {
		mustFailStart(t, productionEnv(t), "WECHATPAY_MCH_PRIVATE_KEY_FILE", "missing_key.pem")
	})
	t.Run("PlatformRegionsInSimulator", func(t *testing.T) {
		mustFailStart(t, map[string]string{"SIMULATOR": "on", "PLATFORM_REGIONS": "beijing", "PLATFORM_BEIJING_SECRET": "s"}, "PLATFORM_REGIONS")
	})
	t.Run("WrongPassword", func(t *testing.T) {
		cfg, err := mysqldrv.ParseDSN(modeltest.MySQLDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Passwd = "certainly-wrong-password"
		mustFailStart(t, map[string]string{"MYSQL_DSN": cfg.FormatDSN()}, "MYSQL_DSN", cfg.Addr, "access denied")
	})
	t.Run("MissingDatabaseIsCreated", func(t *testing.T) {
		cfg, err := mysqldrv.ParseDSN(modeltest.FreshMySQLDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DBName += "_created"
		t.Cleanup(func() {
			if admin, err := model.Open(modeltest.MySQLDSN(t), "", service.SystemClock{}); err == nil {
				admin.Exec("DROP DATABASE IF EXISTS " + cfg.DBName)
				admin.Close()
			}
		})
		base, _ := mustRunMain(t, map[string]string{"MYSQL_DSN": cfg.FormatDSN()})
		loginAndMe(t, base)
	})
}
