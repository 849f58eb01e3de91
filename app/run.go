package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/shebao/sipay/config"
	"github.com/shebao/sipay/logx"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/service"
)

// Run is the server command (cmd/server) without globals: with args
// "migrate" it applies the migrations, otherwise it serves HTTP and runs the
// workers until ctx ends, then drains requests (up to 15 s) and stops the
// workers. ready (optional) receives the listen address. cmd/bench runs
// its server under test through it, so that what it measures is this.
func Run(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer, ready chan<- string) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := slog.New(redact.NewHandler(logx.New(logOut, cfg.LogFormat, cfg.LogLevel).Handler(), cfg.Secrets))

	if len(args) > 0 {
		switch args[0] {
		case "migrate":
			db, err := model.Open(cfg.MySQLDSN, cfg.SQLitePath(), service.SystemClock{})
			if err != nil {
				return err
			}
			defer db.Close()
			applied, err := db.Migrate(ctx)
			if err != nil {
				return err
			}
			log.Info("migrations applied", "dialect", db.Dialect, "count", len(applied), "migrations", strings.Join(applied, ","))
			return nil
		default:
			return fmt.Errorf("unknown command %q (want: migrate)", args[0])
		}
	}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	defer ln.Close()
	if cfg.Simulator && getenv("PUBLIC_BASE_URL") == "" {
		// The simulator delivers notifications to our own listener.
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		cfg.PublicBaseURL = "http://127.0.0.1:" + port
	}
	a, err := New(ctx, cfg, log, Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	logx.Config(logOut, log, cfg.LogFormat, cfg.Fields())
	srv := NewHTTPServer(a.Handler)
	workCtx, stopWorkers := context.WithCancel(context.Background())
	waitWorkers := a.Start(workCtx)
	errc := make(chan error, 2)
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			stopWorkers()
			waitWorkers()
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		msrv := &http.Server{Handler: a.Metrics.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := msrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics listener: %w", err)
			}
		}()
		defer msrv.Close()
		log.Info("metrics", "addr", mln.Addr().String(), "path", "/metrics")
	}
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String())
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-errc:
		stopWorkers()
		waitWorkers()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests and stopping workers")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	stopWorkers()
	waitWorkers()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
