package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/config"
	"github.com/shebao/sipay/internal/childproc"
)

// The child modes. The bench re-executes itself with one of them so the
// server under test runs in its own process: its RSS and CPU are its own and
// a CPU profile shows only the server.

// startDebug serves net/http/pprof on a loopback port and prints it.
func startDebug() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go http.Serve(ln, mux)
	fmt.Println("DEBUG " + ln.Addr().String())
	return nil
}

// serveApp boots the real server exactly as cmd/server does (config from the
// environment, app.New, the same http.Server timeouts, workers started when
// WORKERS is on), on a loopback port, plus a pprof listener.
func serveApp() error {
	ctx := childproc.UntilStdinCloses()
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cfg.PublicBaseURL = "http://127.0.0.1:" + port
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	srv := app.NewHTTPServer(a.Handler)
	if err := startDebug(); err != nil {
		return err
	}
	workCtx, stopWorkers := context.WithCancel(context.Background())
	waitWorkers := a.Start(workCtx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Println("LISTEN " + ln.Addr().String())
	select {
	case err = <-errc:
	case <-ctx.Done():
		shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		err = srv.Shutdown(shutCtx)
	}
	stopWorkers()
	waitWorkers()
	if err == http.ErrServerClosed {
		err = nil
	}
	return err
}

// helloEngine is the minimal gin hello-world the quote route is compared
// with: gin.New() (no middleware) and one JSON handler.
func helloEngine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/hello", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"message": "hello"}) })
	return e
}

// serveHello serves helloEngine with the same http.Server settings.
func serveHello() error {
	return serveLocal(childproc.UntilStdinCloses(), helloEngine())
}

// serveLocal serves h (app.NewHTTPServer) on a free local port, starts the
// debug listener, prints "LISTEN addr" for the parent and serves until ctx
// ends.
func serveLocal(ctx context.Context, h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := app.NewHTTPServer(h)
	go srv.Serve(ln)
	if err := startDebug(); err != nil {
		return err
	}
	fmt.Println("LISTEN " + ln.Addr().String())
	<-ctx.Done()
	return srv.Close()
}
