package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
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
	Sign      *result // RSA-2048 signatures, one goroutine per CPU
	Verify    float64 // verifications/s on all cores
	Raw       *result // raw transaction, throughput concurrency
	RawLat    *result // raw transaction, latency concurrency
	RawBig    *result // raw transaction with ScaleOrders in the tables
	Notify    *result // throughput concurrency, small tables
	NotifyLat *result // latency concurrency
	NotifyBig *result // throughput concurrency, ScaleOrders in the tables
	// The small side of the scale check, alternated with NotifyBig/RawBig.
	NotifyScaleSmall, RawScaleSmall *result
	ScaleSmallOrders                int64
	Quotes                          *result
	Orders                          *result
	// The reference implementations (ref.go), each alternated with the
	// real path on the same kind of requests.
	RefNotify, RefNotifyLat, RefNotifyW *result
	NotifyWorkers                       *result // notify with WORKERS=on
	RefQuote, RefOrder                  *result
	// Goroutines of the server after the orders run, and the orders it
	// had created by then.
	Goroutines, GoroutinesBefore, OrdersServed int64
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

// SignRate is signatures per second on all cores.
func (r *report) SignRate() float64 {
	if r.Sign == nil {
		return 0
	}
	return r.Sign.Rate()
}

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// bench runs loads and accounts for them.
type bench struct {
	o      *options
	pids   pids
	logf   func(string, ...any)
	piiKey string // the server's PII_KEY
}

// load is one scenario: op run from Conc goroutines. Child is the server
// process serving it (sampled and profiled), nil for in-process work.
type load struct {
	Name  string
	Conc  int
	Child *child
	Op    op
}

// once runs the warm-up, then measures l for dur.
func (b *bench) once(ctx context.Context, l load, dur time.Duration, round int) *result {
	if b.o.Warmup > 0 {
		runLoad(ctx, l.Name, l.Conc, b.o.Warmup, l.Op)
	}
	var s *sampler
	profDone := make(chan struct{})
	if l.Child != nil {
		s = startSampler(l.Child.Pid())
	}
	if l.Child != nil && b.o.CPUProfile != "" {
		path := filepath.Join(b.o.CPUProfile, fmt.Sprintf("%s-c%d-r%d.pprof", strings.ReplaceAll(l.Name, " ", "_"), l.Conc, round+1))
		go func() {
			defer close(profDone)
			if err := l.Child.cpuProfile(ctx, max(1, int(dur.Round(time.Second).Seconds())), path); err != nil {
				b.logf("profile %s: %v", path, err)
			}
		}()
	} else {
		close(profDone)
	}
	p := b.pids
	if l.Child != nil {
		p.server = l.Child.Pid() // the hello-world counts as "server" in its own runs
	}
	s0 := snapshot(p)
	r := runLoad(ctx, l.Name, l.Conc, dur, l.Op)
	r.CPU = use(s0, snapshot(p))
	if s != nil {
		r.Server = s.Stop()
	}
	<-profDone
	return r
}

// pair runs the loads in turn, Rounds times, each for Duration/Rounds, so
// that whatever else loads the machine falls on all of them alike. A ceiling
// and the scenario compared with it are always measured as a pair.
func (b *bench) pair(ctx context.Context, ls ...load) []*result {
	rounds := b.o.Rounds
	per := b.o.Duration / time.Duration(rounds)
	all := make([][]*result, len(ls))
	for r := 0; r < rounds; r++ {
		for i, l := range ls {
			all[i] = append(all[i], b.once(ctx, l, per, r))
		}
	}
	out := make([]*result, len(ls))
	for i := range ls {
		out[i] = merge(all[i])
		r := out[i]
		b.logf("%-10s c=%-3d %8.1f/s  p50 %-9s p99 %-9s ok %d err %d  cpu: %s%s", r.Name, r.Concurrency, r.Rate(),
			r.P(0.5).Round(10*time.Microsecond), r.P(0.99).Round(10*time.Microsecond), r.OK, r.Errors, r.CPU, errSuffix(r))
	}
	return out
}

// poolSize is how many items a pool needs for a load expected to run at
// rate for the whole duration plus warm-ups, with margin, capped.
func (b *bench) poolSize(rate float64, conc int) int {
	need := rate*(b.o.Duration+time.Duration(b.o.Rounds)*b.o.Warmup).Seconds()*1.5 + float64(2*conc)
	return int(math.Min(float64(b.o.MaxPool), math.Ceil(need)))
}

// run runs every scenario and prints the report to out.
func run(ctx context.Context, o *options, out io.Writer) error {
	began := time.Now()
	b := &bench{o: o, pids: findPids(), logf: func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}}
	logf := b.logf
	rep := &report{Machine: describeMachine(ctx, o)}
	if b.pids.db == 0 || b.pids.redis == 0 {
		rep.note("could not find the mariadbd/mysqld or redis-server process; their CPU is counted as other")
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
	b.piiKey = newPIIKey()

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

	// The processes under test: the server (app.New, as cmd/server) and the
	// gin hello-world, each in its own process.
	env := []string{"HTTP_ADDR=127.0.0.1:0", "SIMULATOR=on", "WORKERS=off", "MYSQL_DSN=" + db.DSN,
		"REDIS_ADDR=" + o.Redis, fmt.Sprintf("REDIS_DB=%d", benchRedisDB), "DATA_DIR=" + tmp, "LOG_LEVEL=" + o.LogLevel,
		"PII_KEY=" + b.piiKey, "PUBLIC_BASE_URL=", "WECHAT_APPID=", "WECHAT_SECRET=", "WECHATPAY_MCHID=", "AUTO_MIGRATE=on"}
	srv, err := startReady(ctx, "server", "-serve", env, tmp)
	if err != nil {
		return err
	}
	defer srv.Stop()
	logf("server pid %d on %s, pprof on http://%s/debug/pprof/, log %s", srv.Pid(), srv.Addr, srv.Debug, srv.logPath)
	b.pids.server = srv.Pid()
	hello, err := startChild(ctx, "hello", "-hello", nil, tmp)
	if err != nil {
		return err
	}
	defer hello.Stop()
	ref, err := startReady(ctx, "reference", "-ref", env, tmp)
	if err != nil {
		return err
	}
	defer ref.Stop()
	rc := newHTTPClient(o.Conc)
	sc := newHTTPClient(o.Conc)
	body := strings.Repeat("x", 420) // the size of a decrypted transaction resource

	// Calibrate the pool sizes with one second of raw transactions.
	const calN = 20000
	if err := seedOrders(ctx, db.SQL, seedSpec{Prefix: "C", From: 0, N: calN}, 2); err != nil {
		return err
	}
	cal := runLoad(ctx, "calibrate", o.Conc, time.Second, (&rawPool{prefix: "C", n: calN}).op(db.SQL, body))
	logf("calibration: %.0f raw transactions/s", cal.Rate())

	// Notify against the raw transaction ceiling.
	newPool := func(name, prefix string, n int) (*notifyPool, error) {
		logf("%s: seeding %d pending orders and signing a notification for each", name, n)
		if err := seedOrders(ctx, db.SQL, seedSpec{Prefix: prefix, From: 0, N: n}, 2); err != nil {
			return nil, err
		}
		t0 := time.Now()
		p, err := signNotifications(keys, prefix, 0, n)
		logf("%s: signed in %s", name, time.Since(t0).Round(time.Millisecond))
		return p, err
	}
	// poolPair signs the pools of one notify pair: the server's and the
	// reference's. Notifications carry a timestamp checked against a
	// 5-minute window, so each pair's pools are signed right before it runs.
	poolPair := func(name, prefix, refPrefix string, n int) (p, ref *notifyPool, err error) {
		if p, err = newPool(name, prefix, n); err != nil {
			return nil, nil, err
		}
		ref, err = newPool("reference notify", refPrefix, n)
		return p, ref, err
	}
	checkPaid := func(sdb *sql.DB, name, prefix string, r *result, p *notifyPool) error {
		var paid int64
		if err := sdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM batches WHERE order_no LIKE ? AND status = 'paid'", prefix+"%").Scan(&paid); err != nil {
			return err
		}
		if int(paid) < r.OK || int(paid) > p.used() {
			rep.note("%s: %d notifications answered 2xx in the measured part and %d were sent in all, but %d batches are paid", name, r.OK, p.used(), paid)
		}
		if r.Exhausted {
			rep.note("%s: the %d pre-signed notifications ran out after %s measured; the figures cover that time", name, len(p.items), r.Elapsed.Round(time.Millisecond))
		}
		return nil
	}
	if !o.runs("notify") {
		rep.note("notify: skipped (-only)")
	} else if routeExists(ctx, sc, srv.URL(), notifyPath) {
		nHi, nLo := b.poolSize(cal.Rate(), o.Conc), b.poolSize(cal.Rate(), o.LatConc)
		if err := seedOrders(ctx, db.SQL, seedSpec{Prefix: "R", From: 0, N: nHi + nLo}, 2); err != nil {
			return err
		}
		raw := &rawPool{prefix: "R", n: nHi + nLo}
		// The reference is calibrated on its own: it is several times
		// faster than the old design's raw transaction, and the notify
		// pools are sized for it too (the new notify path may reach it).
		pz, err := newPool("reference calibration", "Z", 3000)
		if err != nil {
			return err
		}
		rcal := runLoad(ctx, "calibrate reference", o.Conc, time.Second, refNotifyOp(pz, rc, ref.URL()))
		logf("calibration: %.0f reference notifications/s", rcal.Rate())
		refRate := math.Max(rcal.Rate(), cal.Rate())
		pn, pa, err := poolPair("notify", "N", "A", b.poolSize(refRate, o.Conc))
		if err != nil {
			return err
		}
		if rep.SmallOrders, err = db.count(ctx, "orders"); err != nil {
			return err
		}
		logf("notify ÷ reference and raw transaction at c=%d, %d orders in the tables", o.Conc, rep.SmallOrders)
		rs := b.pair(ctx, load{"raw tx", o.Conc, nil, raw.op(db.SQL, body)}, load{"ref notify", o.Conc, ref, refNotifyOp(pa, rc, ref.URL())},
			load{"notify", o.Conc, srv, pn.op(sc, srv.URL())})
		rep.Raw, rep.RefNotify, rep.Notify = rs[0], rs[1], rs[2]
		pl, pb, err := poolPair("notify", "L", "B", b.poolSize(refRate, o.LatConc))
		if err != nil {
			return err
		}
		logf("notify ÷ reference and raw transaction at c=%d", o.LatConc)
		rs = b.pair(ctx, load{"raw tx", o.LatConc, nil, raw.op(db.SQL, body)}, load{"ref notify", o.LatConc, ref, refNotifyOp(pb, rc, ref.URL())},
			load{"notify", o.LatConc, srv, pl.op(sc, srv.URL())})
		rep.RawLat, rep.RefNotifyLat, rep.NotifyLat = rs[0], rs[1], rs[2]

		// The same with the workers on, as a deployment runs them: a second
		// server on the same database with WORKERS=on (outbox, poller,
		// posting to the simulated provincial platform).
		pw, pa2, err := poolPair("notify (workers on)", "W", "D", b.poolSize(refRate, o.Conc))
		if err != nil {
			return err
		}
		wenv := append(append([]string(nil), env...), "WORKERS=on")
		srvW, err := startReady(ctx, "server-workers", "-serve", wenv, tmp)
		if err != nil {
			return err
		}
		logf("notify with workers on ÷ reference at c=%d", o.Conc)
		rs = b.pair(ctx, load{"ref notify", o.Conc, ref, refNotifyOp(pa2, rc, ref.URL())}, load{"notify workers", o.Conc, srvW, pw.op(sc, srvW.URL())})
		rep.RefNotifyW, rep.NotifyWorkers = rs[0], rs[1]
		srvW.Stop()
		for _, c := range []struct {
			name, prefix string
			r            *result
			p            *notifyPool
		}{{"notify (workers on)", "W", rep.NotifyWorkers, pw}, {"notify", "N", rep.Notify, pn}, {"notify (latency)", "L", rep.NotifyLat, pl}} {
			if err := checkPaid(db.SQL, c.name, c.prefix, c.r, c.p); err != nil {
				return err
			}
		}
	} else {
		rep.note("notify: %s is not mounted in this build; notify scenarios skipped", notifyPath)
	}

	// Quotes against the gin hello-world.
	hc := newHTTPClient(o.Conc)
	helloLoad := load{"hello", o.Conc, hello, func(ctx context.Context, _ int) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hello.URL()+"/hello", nil)
		_, err := do(hc, req, http.StatusOK)
		return err
	}}
	var quoteLoad *load
	if o.runs("quotes") {
		if quoteLoad, err = quotesLoad(ctx, b, rep, db, rdb, srv, sc); err != nil {
			return err
		}
	}
	if quoteLoad != nil {
		logf("quotes ÷ reference quote and gin hello-world at c=%d", o.Conc)
		rs := b.pair(ctx, helloLoad, load{"ref quotes", o.Conc, ref, refQuoteOp(rep.users, rc, ref.URL())}, *quoteLoad)
		rep.Hello, rep.RefQuote, rep.Quotes = rs[0], rs[1], rs[2]
	} else if o.runs("quotes") {
		rep.Hello = b.pair(ctx, helloLoad)[0]
	}
	hello.Stop()

	// Orders against the signing ceiling.
	signLoad := load{"rsa sign", runtime.NumCPU(), nil, signOp(keys)}
	rep.Verify = verifyRate(ctx, keys, time.Second)
	var orderLoad *load
	if o.runs("orders") {
		if orderLoad, err = ordersLoad(ctx, b, rep, db, rdb, srv, sc); err != nil {
			return err
		}
	}
	if orderLoad != nil {
		logf("orders ÷ reference order and RSA signing ceiling")
		rep.GoroutinesBefore, _ = srv.goroutines(ctx)
		refOrders := b.poolSize(float64(rep.Machine.CPUs)*1000/sigsPerOrder, o.Conc)
		rs := b.pair(ctx, signLoad, load{"ref orders", o.Conc, ref, refOrderOp(refOrders, rep.users, rc, ref.URL())}, *orderLoad)
		rep.Sign, rep.RefOrder, rep.Orders = rs[0], rs[1], rs[2]
		finishOrders(rep)
		// wechatpay-go's lingering goroutine: what is left once the load
		// stops (the prepay calls' keep-alive connections stay).
		rep.OrdersServed, _ = db.count(ctx, "orders WHERE order_no LIKE 'SI%'")
		rep.Goroutines, err = srv.goroutines(ctx)
		if err != nil {
			rep.note("goroutines: %v", err)
		}
	} else if o.runs("orders") {
		rep.Sign = b.pair(ctx, signLoad)[0]
	}

	// Scale check: a second database with ScaleOrders orders and a second
	// server on it; the same notify load alternates between the two servers
	// (and the raw transaction between the two databases), so the machine's
	// background load falls on both sides alike.
	if o.Scale && rep.Notify != nil {
		rate := math.Max(rep.Notify.Rate(), cal.Rate())
		nN, nR := b.poolSize(rate, o.Conc), b.poolSize(math.Max(rep.Raw.Rate(), cal.Rate()), o.Conc)
		big, err := createBenchDB(ctx, o.MySQL)
		if err != nil {
			return err
		}
		if !o.Keep {
			defer func() {
				if err := big.Drop(); err != nil {
					logf("drop %s: %v", big.Name, err)
				}
			}()
		}
		fill := max(0, o.ScaleOrders-nN-nR)
		logf("scale: bulk-inserting %d history orders into %s", fill, big.Name)
		t0 := time.Now()
		if err := seedOrders(ctx, big.SQL, seedSpec{Prefix: "H", From: 0, N: fill, Paid: true}, 2); err != nil {
			return err
		}
		rep.note("scale: %d orders with their batches bulk-inserted in %s (multi-row INSERTs of 2,000 rows, 2 connections)", fill, time.Since(t0).Round(time.Second))
		for _, sd := range []struct {
			db     *benchDB
			prefix string
		}{{db, "T"}, {big, "S"}, {big, "M"}} {
			n := nR
			if sd.prefix == "M" {
				n = nN
			}
			if err := seedOrders(ctx, sd.db.SQL, seedSpec{Prefix: sd.prefix, From: 0, N: n}, 2); err != nil {
				return err
			}
		}
		pSmall, err := newPool("notify small", "P", nN)
		if err != nil {
			return err
		}
		t1 := time.Now()
		pBig, err := signNotifications(keys, "M", 0, nN)
		if err != nil {
			return err
		}
		logf("notify big: signed %d in %s", nN, time.Since(t1).Round(time.Millisecond))
		bigEnv := append(append([]string(nil), env...), "MYSQL_DSN="+big.DSN)
		srv2, err := startReady(ctx, "server-1m", "-serve", bigEnv, tmp)
		if err != nil {
			return err
		}
		defer srv2.Stop()
		if rep.ScaleSmallOrders, err = db.count(ctx, "orders"); err != nil {
			return err
		}
		if rep.BigOrders, err = big.count(ctx, "orders"); err != nil {
			return err
		}
		big.SQL.ExecContext(ctx, "ANALYZE TABLE orders, batches")
		var size float64
		if err := big.SQL.QueryRowContext(ctx, "SELECT COALESCE(SUM(data_length+index_length),0)/1048576 FROM information_schema.tables WHERE table_schema = ?", big.Name).Scan(&size); err == nil {
			rep.note("scale: the large database holds %.0f MB of data and indexes with %d orders (InnoDB's estimate; buffer pool %s); the notified batches are recent rows, as in production", size, rep.BigOrders, rep.Machine.BufferPool)
		}
		logf("scale: %d versus %d orders in the tables, c=%d", rep.ScaleSmallOrders, rep.BigOrders, o.Conc)
		rs := b.pair(ctx,
			load{"raw tx", o.Conc, nil, (&rawPool{prefix: "T", n: nR}).op(db.SQL, body)},
			load{"notify", o.Conc, srv, pSmall.op(sc, srv.URL())},
			load{"raw tx big", o.Conc, nil, (&rawPool{prefix: "S", n: nR}).op(big.SQL, body)},
			load{"notify big", o.Conc, srv2, pBig.op(sc, srv2.URL())})
		rep.RawScaleSmall, rep.NotifyScaleSmall, rep.RawBig, rep.NotifyBig = rs[0], rs[1], rs[2], rs[3]
		if err := checkPaid(db.SQL, "notify small (scale)", "P", rep.NotifyScaleSmall, pSmall); err != nil {
			return err
		}
		if err := checkPaid(big.SQL, "notify big", "M", rep.NotifyBig, pBig); err != nil {
			return err
		}
		srv2.Stop()
	}
	srv.Stop()
	rep.Duration = time.Since(began)
	printReport(out, o, rep)
	return nil
}

// signOp makes one RSA-2048 PKCS#1 v1.5 SHA-256 signature of a message the
// size of a prepay request's signing string.
func signOp(keys *wxpay.DevKeys) op {
	msg := []byte("POST\n/v3/pay/transactions/jsapi\n1700000000\n593BEC0C930BF1AFEB40B4A08C8FB242\n" +
		`{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"社保缴费","out_trade_no":"SI2026112400000000000001_01","notify_url":"https://example.com/api/v1/wxpay/notify","amount":{"total":140000,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}` + "\n")
	return func(context.Context, int) error {
		h := sha256.Sum256(msg)
		_, err := keys.MerchantKey.Sign(rand.Reader, h[:], crypto.SHA256)
		return err
	}
}

func errSuffix(r *result) string {
	if r.FirstErr == nil {
		return ""
	}
	return "  first error: " + r.FirstErr.Error()
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
	if se, ok := err.(*statusError); ok && se.Status == http.StatusNotFound && strings.Contains(string(body), "接口不存在") {
		return false
	}
	return true
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
