package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/shebao/sipay/internal/childproc"
	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim"
	"github.com/shebao/sipay/wxpay"
)

// Credentials the simulators accept; the server is started with the same.
const (
	simWeChatSecret   = "chaos-wechat-secret"
	simPlatformAppID  = "sipay-chaos"
	simPlatformSecret = "chaos-platform-secret-not-for-production"
)

// runSims is the `chaos sims` subcommand: the WeChat, WeChat Pay and
// provincial platform simulators (sim.Stack, as in the server) in their own
// long-lived process, so that killing the server does not kill the
// witness. It prints "READY <url>" on stdout once listening and exits when
// its stdin closes (the orchestrator died or finished).
func runSims(args []string) error {
	fs := flag.NewFlagSet("sims", flag.ContinueOnError)
	keysDir := fs.String("keys", "", "development keys directory (wxpay.LoadOrCreateDevKeys)")
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	callback := fs.String("callback", "", "server base URL for provincial platform callbacks")
	scale := fs.Float64("scale", 0.02, "WeChat Pay notification retry schedule scale")
	seed := fs.Uint64("seed", 1, "platform fault RNG seed")
	logPath := fs.String("log", "", "log file (default: discard)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keysDir == "" {
		return fmt.Errorf("sims: -keys is required")
	}
	keys, err := wxpay.LoadOrCreateDevKeys(*keysDir)
	if err != nil {
		return fmt.Errorf("sims: development keys: %w", err)
	}
	logOut := io.Discard
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		logOut = f
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	clock := service.SystemClock{}

	stack := sim.NewStack(sim.StackConfig{Keys: keys, WeChatSecret: simWeChatSecret,
		Platform:     platform.Credentials{AppID: simPlatformAppID, Secret: simPlatformSecret},
		CallbackBase: *callback, Clock: clock, NotifyScale: *scale, Seed: *seed,
		HTTPClient: &http.Client{Timeout: 3 * time.Second}, Logger: log})
	defer stack.Stop()
	srv, err := sim.Start(*addr, stack)
	if err != nil {
		return fmt.Errorf("sims: listen: %w", err)
	}
	defer srv.Close()
	fmt.Printf("READY %s\n", srv.URL)
	// Live as long as the orchestrator holds our stdin open.
	<-childproc.UntilStdinCloses().Done()
	return nil
}
