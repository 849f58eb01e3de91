// Command wxsim runs the development simulators (WeChat mini-program APIs,
// WeChat Pay v3 and the provincial platform) as a standalone server, for
// docker-compose and front-end development. The server normally runs them
// in-process when SIMULATOR=on.
//
// Environment: WXSIM_ADDR (default :9090), WECHAT_APPID, WECHAT_SECRET.
package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/wxsim"
)

func main() {
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	addr := env("WXSIM_ADDR", ":9090")
	sim := wxsim.New(env("WECHAT_APPID", "wxdev0000000000001"), env("WECHAT_SECRET", "dev-secret-not-for-production"), service.SystemClock{})
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	log.Warn("DEVELOPMENT SIMULATOR: not WeChat", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
