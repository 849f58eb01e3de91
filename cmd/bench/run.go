package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/wxpay"
)

// benchRedisDB is the Redis database the bench flushes and the server uses.
const benchRedisDB = 13

// report collects the figures of one run.
type report struct {
	Machine   machine
	Hello     *result
	SignRate  float64 // RSA-2048 signatures/s on all cores
	Verify    float64 // verifications/s on all cores
	Raw       *result // raw transaction, throughput concurrency
	RawLat    *result // raw transaction, latency concurrency
	Notify    *result // throughput concurrency, small tables
	NotifyLat *result // latency concurrency
	NotifyBig *result // throughput concurrency, ScaleOrders in the tables
	Quotes    *result
	Orders    *result
	// SigsPerOrder is the RSA signatures made on this machine per order
	// (see orders.go), SigsNote how it was obtained.
	SigsPerOrder float64
	SigsNote     string
	SmallOrders  int64 // orders in the tables when Notify started
	BigOrders    int64 // … when NotifyBig started
	Notes        []string
	Duration     time.Duration

	users []benchUser // seeded once, shared by quotes and orders
}

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// run runs every scenario and prints the report to out.
func run(ctx context.Context, o *options, out io.Writer) error {
	began := time.Now()
	rep := &report{Machine: describeMachine(ctx, o)}
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	tmp, err := os.MkdirTemp("", "sipay-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if o.CPUProfile != "" {
		if err := os.MkdirAll(o.CPUProfile, 0o755); err != nil {
			return err
		}
	}
	keys, err := wxpay.LoadOrCreateDevKeys(filepath.Join(tmp, "devkeys"))
	if err != nil {
		return err
	}

	logf("creating database on %s", o.MySQL)
	db, err := createBenchDB(ctx, o.MySQL)
	if err != nil {
		return err
	}
	if o.Keep {
		logf("keeping database %s", db.Name)
	} else {
		defer func() {
			if err := db.Drop(); err != nil {
				logf("drop %s: %v", db.Name, err)
			}
		}()
	}
	rdb := redis.NewClient(&redis.Options{Addr: o.Redis, DB: benchRedisDB})
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s db %d: %w", o.Redis, benchRedisDB, err)
	}
	defer rdb.FlushDB(context.Background())

	logf("seeding %d history orders", o.BaseOrders)
	if err := seedOrders(ctx, db.SQL, seedSpec{Prefix: "H", From: 0, N: o.BaseOrders, Paid: true}, 2); err != nil {
		return err
	}

	// Ceiling 1: gin hello-world in its own process.
	logf("ceiling: gin hello-world at %d concurrent", o.Conc)
	hello, err := startChild(ctx, "hello", "-hello", nil, tmp)
	if err != nil {
		return err
	}
	hc := newHTTPClient(o.Conc)
	rep.Hello = measure(ctx, hello, o, "hello", o.Conc, func(ctx context.Context, _ int) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hello.URL()+"/hello", nil)
		_, err := do(hc, req, http.StatusOK)
		return err
	})
	hello.Stop()
	hc.CloseIdleConnections()

	// Ceiling 2: RSA-2048 signing on all cores.
	signDur := min(o.Duration/2, 5*time.Second)
	logf("ceiling: RSA-2048 signing on %d cores for %s", runtime.NumCPU(), signDur)
	rep.SignRate, rep.Verify = signRate(ctx, keys.MerchantKey, signDur)

	// Ceiling 3: the notify transaction in bare database/sql.
	rawN := o.MaxPool * 2
	logf("ceiling: raw notify transaction; seeding %d pending orders", rawN)
	if err := seedOrders(ctx, db.SQL, seedSpec{Prefix: "R", From: 0, N: rawN}, 2); err != nil {
		return err
	}
	raw := &rawPool{prefix: "R", n: rawN}
	body := strings.Repeat("x", 420) // the size of a decrypted transaction resource
	rep.Raw = measure(ctx, nil, o, "raw tx", o.Conc, raw.op(db.SQL, body))
	rep.RawLat = measure(ctx, nil, o, "raw tx", o.LatConc, raw.op(db.SQL, body))
	if _, err := db.SQL.ExecContext(ctx, "DELETE FROM batches WHERE order_no LIKE 'R%'"); err != nil {
		return err
	}
	if _, err := db.SQL.ExecContext(ctx, "DELETE FROM orders WHERE order_no LIKE 'R%'"); err != nil {
		return err
	}

	// The server.
	logf("starting the server child")
	env := []string{"HTTP_ADDR=127.0.0.1:0", "SIMULATOR=on", "WORKERS=off", "MYSQL_DSN=" + db.DSN,
		"REDIS_ADDR=" + o.Redis, fmt.Sprintf("REDIS_DB=%d", benchRedisDB), "DATA_DIR=" + tmp, "LOG_LEVEL=" + o.LogLevel,
		"PUBLIC_BASE_URL=", "WECHAT_APPID=", "WECHAT_SECRET=", "WECHATPAY_MCHID=", "AUTO_MIGRATE=on"}
	srv, err := startChild(ctx, "server", "-serve", env, tmp)
	if err != nil {
		return err
	}
	defer srv.Stop()
	if err := waitReady(ctx, srv.URL()); err != nil {
		return fmt.Errorf("%w; server log: %s", err, tailFile(srv.logPath, 2000))
	}
	sc := newHTTPClient(o.Conc)

	notifyRun := func(name, prefix string, conc int, expect float64, from int) (*result, error) {
		n := int(math.Min(float64(o.MaxPool), math.Ceil(expect*(o.Duration+o.Warmup).Seconds()*1.15)+float64(conc)))
		logf("%s: seeding and signing %d notifications", name, n)
		if err := seedOrders(ctx, db.SQL, seedSpec{Prefix: prefix, From: from, N: n}, 2); err != nil {
			return nil, err
		}
		t0 := time.Now()
		pool, err := signNotifications(keys, prefix, from, n)
		if err != nil {
			return nil, err
		}
		logf("%s: signed in %s", name, time.Since(t0).Round(time.Millisecond))
		r := measure(ctx, srv, o, name, conc, pool.op(sc, srv.URL()))
		var paid int64
		if err := db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM batches WHERE order_no LIKE ? AND status = 'paid'", prefix+"%").Scan(&paid); err != nil {
			return nil, err
		}
		if int(paid) < r.OK || int(paid) > pool.used() {
			rep.note("%s: %d notifications answered 2xx in the measured part, %d taken from the pool, but %d batches are paid", name, r.OK, pool.used(), paid)
		}
		if r.Exhausted {
			rep.note("%s: the %d pre-signed notifications ran out after %s; figures cover that time", name, n, r.Elapsed.Round(time.Millisecond))
		}
		return r, nil
	}

	// Notify, small tables.
	if rep.SmallOrders, err = db.count(ctx, "orders"); err != nil {
		return err
	}
	if routeExists(ctx, sc, srv.URL(), notifyPath) {
		if rep.Notify, err = notifyRun("notify", "N", o.Conc, rep.Raw.Rate(), 0); err != nil {
			return err
		}
		if rep.NotifyLat, err = notifyRun("notify", "L", o.LatConc, rep.RawLat.Rate(), 0); err != nil {
			return err
		}
	} else {
		rep.note("notify: %s is not mounted in this build; notify scenarios skipped", notifyPath)
	}

	// Quotes and orders.
	if err := runQuotes(ctx, o, rep, db, rdb, srv, sc, logf); err != nil {
		return err
	}
	if err := runOrders(ctx, o, rep, db, rdb, srv, sc, keys, logf); err != nil {
		return err
	}

	// Scale check.
	if o.Scale && rep.Notify != nil {
		have, err := db.count(ctx, "orders")
		if err != nil {
			return err
		}
		pool := int(math.Min(float64(o.MaxPool), math.Ceil(rep.Notify.Rate()*(o.Duration+o.Warmup).Seconds()*1.3)+float64(o.Conc)))
		fill := o.ScaleOrders - int(have) - pool
		if fill > 0 {
			logf("scale: bulk-inserting %d history orders", fill)
			t0 := time.Now()
			if err := seedOrders(ctx, db.SQL, seedSpec{Prefix: "H", From: o.BaseOrders, N: fill, Paid: true}, 2); err != nil {
				return err
			}
			logf("scale: inserted in %s", time.Since(t0).Round(time.Second))
			rep.note("scale: %d orders+batches bulk-inserted in %s", fill, time.Since(t0).Round(time.Second))
		}
		if rep.BigOrders, err = db.count(ctx, "orders"); err != nil {
			return err
		}
		rep.BigOrders += int64(pool)
		if rep.NotifyBig, err = notifyRun("notify 1M", "M", o.Conc, rep.Notify.Rate()*1.1, 0); err != nil {
			return err
		}
	}
	srv.Stop()
	rep.Duration = time.Since(began)
	printReport(out, o, rep)
	return nil
}

// measure runs one load scenario with warm-up; with a server child it samples
// the child's RSS and CPU and, with -cpuprofile, records a CPU profile of the
// measured part.
func measure(ctx context.Context, c *child, o *options, name string, conc int, f op) *result {
	var s *sampler
	profDone := make(chan struct{})
	if c != nil {
		s = startSampler(c.Pid())
		if o.CPUProfile != "" {
			path := filepath.Join(o.CPUProfile, fmt.Sprintf("%s-c%d.pprof", strings.ReplaceAll(name, " ", "_"), conc))
			go func() {
				defer close(profDone)
				select {
				case <-time.After(o.Warmup):
				case <-ctx.Done():
					return
				}
				secs := max(1, int(o.Duration.Seconds()))
				if err := c.cpuProfile(ctx, secs, path); err != nil {
					fmt.Fprintf(os.Stderr, "profile %s: %v\n", path, err)
				}
			}()
		} else {
			close(profDone)
		}
	} else {
		close(profDone)
	}
	r := runLoad(ctx, name, conc, o.Warmup, o.Duration, f)
	if s != nil {
		r.Server = s.Stop()
	}
	<-profDone
	fmt.Fprintf(os.Stderr, "%s  %-10s c=%-3d %8.1f/s  p50 %-9s p99 %-9s ok %d err %d%s\n", time.Now().Format("15:04:05"),
		name, conc, r.Rate(), r.P(0.5).Round(10*time.Microsecond), r.P(0.99).Round(10*time.Microsecond), r.OK, r.Errors, errSuffix(r))
	return r
}

func errSuffix(r *result) string {
	if r.FirstErr == nil {
		return ""
	}
	return " first error: " + r.FirstErr.Error()
}

// waitReady polls /readyz for up to 30 s.
func waitReady(ctx context.Context, base string) error {
	c := newHTTPClient(1)
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		_, err := do(c, req, http.StatusOK)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// routeExists reports whether POST path is mounted (anything but the
// router's 404 "接口不存在" answer).
func routeExists(ctx context.Context, c *http.Client, base, path string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	body, err := do(c, req, 0)
	var se *statusError
	if err == nil {
		return true
	}
	if ok := asStatus(err, &se); ok && se.Status == http.StatusNotFound && strings.Contains(string(body), "接口不存在") {
		return false
	}
	return true
}

func asStatus(err error, target **statusError) bool {
	se, ok := err.(*statusError)
	if ok {
		*target = se
	}
	return ok
}

// tailFile returns the last n bytes of a file.
func tailFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	st, _ := f.Stat()
	if st.Size() > n {
		f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
