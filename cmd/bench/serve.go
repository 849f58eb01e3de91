package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/app"
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

// serveApp boots the real server through app.Run, exactly as cmd/server
// does (config from the environment, workers started when WORKERS is on),
// on a loopback port, plus a pprof listener.
func serveApp() error {
	if err := startDebug(); err != nil {
		return err
	}
	ready := make(chan string, 1)
	go func() { fmt.Println("LISTEN " + <-ready) }()
	return app.Run(childproc.UntilStdinCloses(), nil, os.Getenv, os.Stderr, ready)
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
