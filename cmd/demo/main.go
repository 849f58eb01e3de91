// Command demo walks the whole product path against a server running on the
// embedded default with the simulators, printing each step with amounts in
// yuan and the ids involved, then shows the failure path: the provincial
// platform is down, simulated time passes 72 hours, the refund goes out and
// the refund notification completes it. It exits non-zero when any step does
// not behave as documented.
//
//	go run ./cmd/demo                 # boots its own server in-process (temporary DATA_DIR)
//	go run ./cmd/demo -server URL     # drives a running `go run ./cmd/server` (SIMULATOR=on)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/config"
	"github.com/shebao/sipay/service"
)

func main() {
	server := flag.String("server", "", "base URL of a running server with SIMULATOR=on (default: start one in-process)")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	base := *server
	var logPath string
	if base == "" {
		var stop func()
		var err error
		base, logPath, stop, err = startServer(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "demo: start server:", err)
			os.Exit(1)
		}
		defer stop()
	}
	d := &demo{base: strings.TrimRight(base, "/"), ctx: ctx, http: &http.Client{Timeout: 20 * time.Second}}
	err := d.run()
	if logPath != "" {
		// The failure path makes the server warn on purpose (platform down,
		// retries, refunds); its log goes to a file so it does not interleave
		// with the walk-through.
		fmt.Printf("\nserver log (warnings and errors, expected ones included): %s (%d lines)\n", logPath, countLines(logPath))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "\nDEMO FAILED: %v\n", err)
		if logPath != "" {
			fmt.Fprintf(os.Stderr, "last server log lines:\n%s", tail(logPath, 15))
		}
		os.Exit(1)
	}
	fmt.Println("\nDEMO OK: every step behaved as documented.")
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > n+1 {
		lines = lines[len(lines)-n-1:]
	}
	return strings.Join(lines, "")
}

// startServer boots the real app (embedded SQLite, in-process Redis, the
// simulators) on a loopback port with its workers running.
func startServer(ctx context.Context) (string, string, func(), error) {
	dir, err := os.MkdirTemp("", "sipay-demo-")
	if err != nil {
		return "", "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", nil, err
	}
	logFile, err := os.CreateTemp("", "sipay-demo-server-*.log")
	if err != nil {
		return "", "", nil, err
	}
	base := "http://" + ln.Addr().String()
	env := map[string]string{"DATA_DIR": dir, "PUBLIC_BASE_URL": base, "LOG_LEVEL": "warn", "DEMO_FAST_WORKERS": "on",
		"HOLD_VELOCITY_PER_DAY": "1"} // a payer's second payment of the day is held: the step-up demo
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		return "", "", nil, err
	}
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return "", "", nil, err
	}
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	wctx, stopWorkers := context.WithCancel(context.Background())
	wait := a.Start(wctx)
	return base, logFile.Name(), func() {
		srv.Shutdown(context.Background())
		stopWorkers()
		wait()
		a.Close()
		logFile.Close()
		os.RemoveAll(dir)
	}, nil
}

type demo struct {
	base  string
	ctx   context.Context
	http  *http.Client
	token string
	code  string // the wx.login code of the current user (the simulator derives the openid from it)
	step  int
}

type obj = map[string]any

func (d *demo) title(format string, args ...any) {
	d.step++
	fmt.Printf("\n[%d] %s\n", d.step, fmt.Sprintf(format, args...))
}

func say(format string, args ...any) { fmt.Printf("    %s\n", fmt.Sprintf(format, args...)) }

// call sends a JSON request and decodes the reply; want is the expected status.
func (d *demo) call(method, path string, body any, want int, headers ...string) (obj, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(d.ctx, method, d.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := d.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out obj
	if len(raw) > 0 && raw[0] == '{' {
		json.Unmarshal(raw, &out)
	} else if len(raw) > 0 && raw[0] == '[' {
		var arr []any
		json.Unmarshal(raw, &arr)
		out = obj{"items": arr}
	}
	if res.StatusCode != want {
		return out, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, strings.TrimSpace(string(raw)))
	}
	return out, nil
}

// waitFor polls fn until it returns true (or an error, or the deadline).
func (d *demo) waitFor(what string, limit time.Duration, fn func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := fn()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s", what)
		}
		select {
		case <-d.ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, d.ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func str(m obj, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	switch v := cur.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprintf("%.0f", v)
	case bool:
		return fmt.Sprint(v)
	}
	return ""
}

func list(m obj, key string) []obj {
	arr, _ := m[key].([]any)
	out := make([]obj, 0, len(arr))
	for _, v := range arr {
		if o, ok := v.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}

func yuan(m obj, key string) string {
	v, _ := m[key].(float64)
	return service.Fen(int64(v)).String() + " 元"
}
