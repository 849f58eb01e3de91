// Command chaos runs scripted fault-injection scenarios against the real
// server binary, with the simulators of WeChat, WeChat Pay and the
// provincial platform in a separate long-lived process (the witness), and
// checks the money invariants against the simulators' ledgers.
//
//	go run ./cmd/chaos [-mysql DSN] [-redis ADDR] [-duration 90s] [-seed N]
//	chaos sims -keys DIR ...   (internal: the simulator process)
//
// Scenarios (docs/fault-injection.md): 1. kill -9 of the server under load;
// 2. Redis FLUSHDB and restart under load; 3. MySQL connections killed
// under load; 4. two server instances sharing MySQL and Redis.
//
// It is loopback only and bounded: every loop is bounded in count and time
// and the whole run takes about duration plus 90 seconds. The last line is
// "CHAOS PASS ..." (exit 0) or "CHAOS FAIL ..." (exit 1); a setup error
// exits 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sims" {
		if err := runSims(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(2)
		}
		return
	}
	var o options
	flag.StringVar(&o.MySQL, "mysql", "root@tcp(127.0.0.1:3306)/test?parseTime=true",
		"MySQL/MariaDB DSN; a fresh database chaos_<rand> is created on that server and dropped at the end")
	flag.StringVar(&o.Redis, "redis", "127.0.0.1:6379", "Redis address; DB 12 is flushed at start and used")
	flag.DurationVar(&o.Duration, "duration", 90*time.Second, "total load time over the eight scenarios")
	flag.Int64Var(&o.Seed, "seed", 0, "random seed (0: from the clock; printed)")
	flag.StringVar(&o.Only, "only", "", "run only these scenarios, comma-separated numbers (e.g. 1,3)")
	flag.IntVar(&o.Workers, "workers", 8, "concurrent simulated customers")
	flag.IntVar(&o.RedisPort, "redis-port", 6390, "loopback port of the throw-away redis-server of scenario 2")
	flag.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (logs, keys) and the database")
	flag.Parse()
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano() % 1_000_000_007
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		var fail *failure
		if errors.As(err, &fail) {
			fmt.Printf("CHAOS FAIL (seed %d): %s\n", o.Seed, fail.Error())
			os.Exit(1)
		}
		fmt.Printf("CHAOS ERROR (seed %d): %v\n", o.Seed, err)
		os.Exit(2)
	}
	fmt.Printf("CHAOS PASS (seed %d): %s\n", o.Seed, res)
}

// options are the command-line flags.
type options struct {
	MySQL     string
	Redis     string
	Duration  time.Duration
	Seed      int64
	Only      string
	Workers   int
	RedisPort int
	Keep      bool
}

// failure is an invariant violation (exit 1), as opposed to a setup error.
type failure struct{ msgs []string }

func (f *failure) Error() string {
	if len(f.msgs) == 1 {
		return f.msgs[0]
	}
	return fmt.Sprintf("%d invariant violations, first: %s", len(f.msgs), f.msgs[0])
}
