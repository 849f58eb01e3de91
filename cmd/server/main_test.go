package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/app/apptest"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
)

// mustRunMain starts app.Run on a free port and returns its base URL; the
// server is stopped (as by SIGTERM) at cleanup and must exit cleanly.
func mustRunMain(t *testing.T, env map[string]string) (string, *apptest.SyncBuffer) {
	t.Helper()
	env["HTTP_ADDR"] = "127.0.0.1:0"
	if env["DATA_DIR"] == "" {
		env["DATA_DIR"] = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &apptest.SyncBuffer{}
	go func() { done <- app.Run(ctx, nil, func(k string) string { return env[k] }, logs, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run exited: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start\n%s", logs)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("server did not stop after cancel")
		}
	})
	return "http://" + addr, logs
}

func loginAndMe(t *testing.T, base string) {
	t.Helper()
	res, err := http.Post(base+"/api/v1/auth/login", "application/json", strings.NewReader(`{"code":"e2e-user"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var login struct {
		Token string `json:"token"`
	}
	json.NewDecoder(res.Body).Decode(&login)
	if res.StatusCode != 200 || login.Token == "" {
		t.Fatalf("login status=%d, want 200 with a token", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+login.Token)
	me, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	me.Body.Close()
	if me.StatusCode != 200 {
		t.Fatalf("GET /me status=%d, want 200", me.StatusCode)
	}
}

func TestMain_EmbeddedDefaults(t *testing.T) {
	base, logs := mustRunMain(t, map[string]string{})
	for _, p := range []string{"/healthz", "/readyz"} {
		res, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s status=%d, want 200", p, res.StatusCode)
		}
	}
	loginAndMe(t, base)
	if !strings.Contains(logs.String(), "DEVELOPMENT SETUP") {
		t.Fatalf("no development-setup log line")
	}
}

func TestMain_MySQLAndRedis(t *testing.T) {
	dsn := modeltest.FreshMySQLDSN(t)
	redisAddr := os.Getenv("TEST_REDIS_ADDR")
	if redisAddr == "" {
		t.Skip("TEST_REDIS_ADDR not set")
	}
	base, logs := mustRunMain(t, map[string]string{"MYSQL_DSN": dsn, "REDIS_ADDR": redisAddr, "REDIS_DB": "14", "LOG_FORMAT": "json"})
	loginAndMe(t, base)
	if !strings.Contains(logs.String(), `"dialect":"mysql"`) {
		t.Fatalf("server did not migrate MySQL:\n%s", logs)
	}
	if !strings.Contains(logs.String(), `"msg":"configuration"`) {
		t.Fatalf("LOG_FORMAT=json: no configuration record:\n%s", logs)
	}
}

// TestMain_TextLogShowsTheConfigurationAsABlock: with the simulator the log
// is text and the start-up configuration one aligned block, secrets masked.
func TestMain_TextLogShowsTheConfigurationAsABlock(t *testing.T) {
	_, logs := mustRunMain(t, map[string]string{"SIMULATOR": "on", "ADMIN_TOKEN": "very-secret-admin-token"})
	out := logs.String()
	if !strings.Contains(out, "configuration (secrets masked):\n") || !strings.Contains(out, "\n  SIMULATOR ") || !strings.Contains(out, "\n  LOG_FORMAT ") {
		t.Fatalf("no configuration block in the text log:\n%s", out)
	}
	if strings.Contains(out, "very-secret-admin-token") {
		t.Fatalf("the admin token is in the log")
	}
	if strings.Contains(out, `"msg":`) {
		t.Fatalf("text mode wrote JSON:\n%s", out)
	}
}

func TestMain_BadConfigNamesVariable(t *testing.T) {
	err := app.Run(context.Background(), nil, func(k string) string {
		return map[string]string{"SESSION_TTL": "nope"}[k]
	}, &bytes.Buffer{}, nil)
	if err == nil || !strings.Contains(err.Error(), "SESSION_TTL") {
		t.Fatalf("err=%v, want it to name SESSION_TTL", err)
	}
}

// TestMain_MigrateCommand: `server migrate` applies every embedded migration
// and exits; a second run applies none.
func TestMain_MigrateCommand(t *testing.T) {
	for _, dialect := range []string{model.SQLite, model.MySQL} {
		t.Run(dialect, func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir(), "LOG_FORMAT": "json"}
			if dialect == model.MySQL {
				env["MYSQL_DSN"] = modeltest.FreshMySQLDSN(t)
			}
			ms, err := model.Migrations(dialect)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []int{len(ms), 0} {
				logs := &apptest.SyncBuffer{}
				if err := app.Run(t.Context(), []string{"migrate"}, func(k string) string { return env[k] }, logs, nil); err != nil {
					t.Fatalf("run %d: server migrate: %v\n%s", i+1, err, logs)
				}
				if got := fmt.Sprintf(`"dialect":%q,"count":%d,`, dialect, want); !strings.Contains(logs.String(), got) {
					t.Fatalf("run %d: want a log record with %s, got:\n%s", i+1, got, logs)
				}
			}
		})
	}
}
