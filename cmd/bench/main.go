// Command bench measures the server on loopback MySQL/MariaDB and Redis:
// WeChat Pay notify handling, order creation with prepay against the pay
// simulator, and quotes, each against a ceiling measured in the same run (a
// bare database/sql transaction, a gin hello-world, Go's RSA-2048 signing
// rate), plus a 10k-versus-1M-orders scale check. It prints the figures and
// a PASS/MISS table of the performance targets.
//
//	go run ./cmd/bench [-mysql DSN] [-redis ADDR] [-duration 10s] [-scale=false] [-quick] [-cpuprofile DIR]
//
// The server runs as a child process (this binary re-executed with -serve,
// booting app.New exactly as cmd/server does) so its RSS and CPU are its own.
// The bench creates and drops its own database bench_<rand> and flushes
// Redis DB 13. It talks to 127.0.0.1 only. It is a measurement, not a test:
// do not run it in CI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-serve":
			if err := serveApp(); err != nil {
				fmt.Fprintln(os.Stderr, "serve:", err)
				os.Exit(1)
			}
			return
		case "-ref":
			if err := serveRef(); err != nil {
				fmt.Fprintln(os.Stderr, "ref:", err)
				os.Exit(1)
			}
			return
		case "-hello":
			if err := serveHello(); err != nil {
				fmt.Fprintln(os.Stderr, "hello:", err)
				os.Exit(1)
			}
			return
		}
	}
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command-line settings.
type options struct {
	MySQL       string
	Redis       string
	Duration    time.Duration // measured time per scenario
	Warmup      time.Duration // unmeasured time before it
	Scale       bool          // run the 1M-orders scale check
	ScaleOrders int           // orders in the tables for the large point
	BaseOrders  int           // history orders in the tables for the small point
	Quick       bool
	Conc        int             // throughput concurrency
	LatConc     int             // latency concurrency
	CPUProfile  string          // directory for server CPU profiles ("" = none)
	Keep        bool            // keep the database (for inspection)
	LogLevel    string          // server LOG_LEVEL
	MaxPool     int             // most notifications pre-signed for one run
	Rounds      int             // alternations of a ceiling and its scenario
	Only        map[string]bool // scenarios to run (-only); nil runs all
}

// parseFlags parses the command line. -quick shortens every run to 3 s and
// skips the scale check unless -duration or -scale are given explicitly.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.MySQL, "mysql", "root@tcp(127.0.0.1:3306)/test?parseTime=true", "MySQL/MariaDB DSN on loopback; the bench creates and drops its own database bench_<rand> there")
	fs.StringVar(&o.Redis, "redis", "127.0.0.1:6379", "Redis address on loopback; DB 13 is flushed and used")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured duration of each scenario")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "unmeasured warm-up before each scenario")
	only := fs.String("only", "", "run only these scenarios, comma-separated: notify, quotes, orders (for profiling one; default all)")
	fs.BoolVar(&o.Scale, "scale", true, "run the scale check (notify throughput with 1M orders in the tables)")
	fs.IntVar(&o.ScaleOrders, "scale-orders", 1_000_000, "orders in the tables for the scale check")
	fs.IntVar(&o.BaseOrders, "base-orders", 10_000, "history orders seeded before the first scenario")
	fs.BoolVar(&o.Quick, "quick", false, "quick run: 3s per scenario and no scale check (unless set explicitly)")
	fs.IntVar(&o.Conc, "c", 64, "concurrency of the throughput runs")
	fs.IntVar(&o.LatConc, "lc", 16, "concurrency of the notify latency run")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a server CPU profile of every server scenario into this directory")
	fs.BoolVar(&o.Keep, "keep", false, "keep the bench database instead of dropping it")
	fs.StringVar(&o.LogLevel, "loglevel", "info", "server LOG_LEVEL (its log goes to a file in the temp dir)")
	fs.IntVar(&o.MaxPool, "max-pool", 40000, "most notifications pre-signed for one notify run")
	fs.IntVar(&o.Rounds, "rounds", 4, "each ceiling and the scenario compared with it alternate this many times, each round Duration/rounds long")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *only != "" {
		o.Only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			switch s = strings.TrimSpace(s); s {
			case "notify", "quotes", "orders":
				o.Only[s] = true
			default:
				return nil, fmt.Errorf("-only: unknown scenario %q (notify, quotes, orders)", s)
			}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Quick {
		if !set["duration"] {
			o.Duration = 3 * time.Second
		}
		if !set["warmup"] {
			o.Warmup = 500 * time.Millisecond
		}
		if !set["scale"] {
			o.Scale = false
		}
	}
	switch {
	case o.Duration <= 0:
		return nil, errors.New("-duration must be positive")
	case o.Warmup < 0:
		return nil, errors.New("-warmup must not be negative")
	case o.Conc < 1 || o.LatConc < 1:
		return nil, errors.New("-c and -lc must be at least 1")
	case o.BaseOrders < 0 || o.ScaleOrders < o.BaseOrders:
		return nil, errors.New("-scale-orders must be at least -base-orders")
	case o.MaxPool < 1:
		return nil, errors.New("-max-pool must be at least 1")
	case o.Rounds < 1:
		return nil, errors.New("-rounds must be at least 1")
	}
	if err := loopbackOnly(o.Redis); err != nil {
		return nil, fmt.Errorf("-redis: %w", err)
	}
	return o, nil
}

// runs reports whether scenario is to be run (-only).
func (o *options) runs(scenario string) bool { return o.Only == nil || o.Only[scenario] }

// loopbackOnly refuses any address but 127.0.0.1, ::1 or localhost.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address; the bench only talks to 127.0.0.1", addr)
}
