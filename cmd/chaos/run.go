package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/sim/paysim"
)

// chaosRedisDB is the database index used on the shared Redis.
const chaosRedisDB = 12

// env is everything a scenario uses.
type env struct {
	o       options
	tmp     string
	bin     string
	sims    *simsProc
	admin   *sql.DB
	dbName  string
	srvEnv  serverEnv
	w       *witness
	pool    *clientPool
	rng     *rand.Rand
	runID   string
	servers []*serverProc // every server started, for cleanup
	results []string
	fails   []string
}

func (e *env) logf(format string, args ...any) {
	fmt.Printf("[%s] %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (e *env) fail(scenario, format string, args ...any) {
	msg := scenario + ": " + fmt.Sprintf(format, args...)
	e.fails = append(e.fails, msg)
	e.logf("VIOLATION %s", msg)
}

// run sets everything up, runs the selected scenarios and tears down.
func run(ctx context.Context, o options) (string, error) {
	if o.Duration < 8*time.Second || o.Duration > 150*time.Second {
		return "", fmt.Errorf("-duration: want 8s to 150s (the whole run must stay under 4 minutes), got %s", o.Duration)
	}
	only := map[int]bool{}
	for _, s := range strings.Split(o.Only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 8 {
				return "", fmt.Errorf("-only: want numbers 1-8, got %q", s)
			}
			only[n] = true
		}
	}
	started := time.Now()
	// A hard bound on the whole run, whatever happens below.
	ctx, cancel := context.WithTimeout(ctx, min(4*time.Minute, o.Duration+150*time.Second))
	defer cancel()
	e := &env{o: o, rng: rand.New(rand.NewPCG(uint64(o.Seed), 0xc4a05)), pool: newClientPool(64)}
	e.runID = strconv.FormatUint(e.rng.Uint64()%1_000_000, 36)
	var err error
	if e.tmp, err = os.MkdirTemp("", "sipay-chaos-"); err != nil {
		return "", err
	}
	e.logf("seed %d, duration %s, workers %d, temporary directory %s", o.Seed, o.Duration, o.Workers, e.tmp)
	defer e.teardown()

	e.logf("building the server binary")
	if e.bin, err = buildServer(ctx, e.tmp); err != nil {
		return "", err
	}
	if err := e.setupStores(ctx); err != nil {
		return "", err
	}
	keys, err := prepareKeys(filepath.Join(e.tmp, "devkeys"))
	if err != nil {
		return "", fmt.Errorf("development keys: %w", err)
	}
	// Provincial callbacks go to the first server's port, which every
	// scenario reuses for its first instance.
	portA, err := freePort()
	if err != nil {
		return "", err
	}
	portB, err := freePort()
	if err != nil {
		return "", err
	}
	if e.sims, err = startSims(keys.Dir, "http://127.0.0.1:"+strconv.Itoa(portA), filepath.Join(e.tmp, "sims.log"), o.Seed); err != nil {
		return "", err
	}
	e.logf("simulators in their own process at %s (pid %d)", e.sims.URL, e.sims.proc.Pid())
	e.srvEnv = serverEnv{MySQLDSN: e.serverDSN(), Redis: o.Redis, RedisDB: chaosRedisDB, SimURL: e.sims.URL,
		Keys: keys, PIIKey: randomPIIKey(), DataDir: e.tmp}
	e.w = &witness{db: e.admin, dbName: e.dbName, simURL: e.sims.URL, hc: &http.Client{Timeout: 10 * time.Second}}
	if err := migrate(ctx, e.bin, e.srvEnv.vars(portA)); err != nil {
		return "", err
	}
	// WeChat Pay sends every notification twice, concurrently; the
	// provincial platform fails 30 % of requests with a retryable 503.
	if err := e.simPost(ctx, "/sim/pay/notify-behavior", map[string]any{"duplicates": 1, "concurrent": true}); err != nil {
		return "", err
	}

	type scenario struct {
		n     int
		name  string
		share float64
		fn    func(ctx context.Context, name string, d time.Duration, portA, portB int) error
	}
	all := []scenario{
		{1, "kill -9 under load", 0.40, e.scenarioKill},
		{2, "Redis flushed and restarted", 0.20, e.scenarioRedis},
		{3, "MySQL connections killed", 0.15, e.scenarioMySQL},
		{4, "two instances", 0.25, e.scenarioTwo},
		{5, "platform books then goes dark at the deadline", 0.12, e.scenarioDark},
		{6, "403 storm", 0.12, e.scenarioForbidden},
		{7, "sibling callbacks over two instances", 0.12, e.scenarioSiblings},
		{8, "callbacks on the wrong region", 0.10, e.scenarioWrongRegion},
	}
	total := 0.0
	for _, s := range all {
		if len(only) == 0 || only[s.n] {
			total += s.share
		}
	}
	ran := 0
	for _, s := range all {
		if len(only) > 0 && !only[s.n] {
			continue
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		d := time.Duration(float64(o.Duration) * s.share / total).Round(time.Second)
		name := fmt.Sprintf("scenario %d (%s)", s.n, s.name)
		e.logf("==== %s: %s of load", name, d)
		before, ownServers := len(e.fails), len(e.servers)
		err := s.fn(ctx, name, d, portA, portB)
		// The next scenario reuses the ports: stop what this one started.
		for i := len(e.servers) - 1; i >= ownServers; i-- {
			e.servers[i].stop()
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		ran++
		verdict := "ok"
		if len(e.fails) > before {
			verdict = fmt.Sprintf("%d violations", len(e.fails)-before)
		}
		e.results = append(e.results, fmt.Sprintf("%d:%s", s.n, verdict))
	}
	e.logf("finished in %s", time.Since(started).Round(time.Second))
	if len(e.fails) > 0 {
		e.o.Keep = true
		e.logf("logs kept in %s", e.tmp)
		return "", &failure{msgs: e.fails}
	}
	return fmt.Sprintf("%d scenarios [%s] in %s", ran, strings.Join(e.results, " "), time.Since(started).Round(time.Second)), nil
}

// setupStores creates the fresh database and flushes Redis DB 12.
func (e *env) setupStores(ctx context.Context) error {
	cfg, err := mysql.ParseDSN(e.o.MySQL)
	if err != nil {
		return fmt.Errorf("-mysql: %w", err)
	}
	e.dbName = "chaos_" + e.runID
	adminCfg := cfg.Clone()
	adminCfg.DBName = ""
	adminCfg.ParseTime = true
	if e.admin, err = sql.Open("mysql", adminCfg.FormatDSN()); err != nil {
		return fmt.Errorf("-mysql: %w", err)
	}
	e.admin.SetMaxOpenConns(4)
	if _, err := e.admin.ExecContext(ctx, "CREATE DATABASE `"+e.dbName+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		return fmt.Errorf("create database %s: %w", e.dbName, err)
	}
	e.logf("database %s created", e.dbName)
	rdb := redis.NewClient(&redis.Options{Addr: e.o.Redis, DB: chaosRedisDB})
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("-redis %s DB %d: %w", e.o.Redis, chaosRedisDB, err)
	}
	return nil
}

// serverDSN is the -mysql DSN pointing at the fresh database.
func (e *env) serverDSN() string {
	cfg, _ := mysql.ParseDSN(e.o.MySQL)
	cfg.DBName = e.dbName
	cfg.ParseTime = true
	return cfg.FormatDSN()
}

func (e *env) teardown() {
	for _, s := range e.servers {
		s.stop()
	}
	if e.sims != nil {
		e.sims.stop()
	}
	if e.admin != nil {
		if !e.o.Keep {
			if _, err := e.admin.Exec("DROP DATABASE IF EXISTS `" + e.dbName + "`"); err != nil {
				e.logf("drop database %s: %v", e.dbName, err)
			}
		} else {
			e.logf("database %s kept", e.dbName)
		}
		e.admin.Close()
	}
	rdb := redis.NewClient(&redis.Options{Addr: e.o.Redis, DB: chaosRedisDB})
	_ = rdb.FlushDB(context.Background()).Err()
	rdb.Close()
	if !e.o.Keep {
		os.RemoveAll(e.tmp)
	}
}

// simPost posts a JSON control request to the simulator process.
func (e *env) simPost(ctx context.Context, path string, body any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", e.sims.URL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.w.hc.Do(req)
	if err != nil {
		return fmt.Errorf("simulator %s: %w", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("simulator %s: status %d", path, resp.StatusCode)
	}
	return nil
}

// startServer starts a server on port with the given Redis.
func (e *env) startServer(ctx context.Context, name string, port int, redisAddr string, redisDB int) (*serverProc, error) {
	se := e.srvEnv
	se.Redis, se.RedisDB = redisAddr, redisDB
	s := newServer(name, port, e.bin, se, e.tmp)
	e.servers = append(e.servers, s)
	t0 := time.Now()
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	e.logf("server %s ready on %s in %s", name, s.URL(), time.Since(t0).Round(time.Millisecond))
	return s, nil
}

// newLoad prepares simulated customers against servers.
func (e *env) newLoad(servers ...*serverProc) *load {
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.URL()
	}
	return &load{servers: func() []string { return urls }, simURL: e.sims.URL, pool: e.pool, st: newStats(),
		seed: e.o.Seed + int64(e.rng.IntN(1<<20)), runID: e.runID + strconv.Itoa(e.rng.IntN(1000))}
}

// startLoad runs the load in the background for d; the returned function
// waits for it to end.
func (e *env) startLoad(ctx context.Context, l *load, d time.Duration) (wait func()) {
	lctx, cancel := context.WithTimeout(ctx, d)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(lctx, e.o.Workers)
	}()
	return func() {
		<-done
		cancel()
	}
}

// verify drains, checks the invariants and reports.
func (e *env) verify(ctx context.Context, name string, l *load, limit time.Duration) error {
	if err := e.simPost(ctx, "/sim/platform/faults", map[string]any{"error_rate": 0}); err != nil {
		return err
	}
	v, took, err := e.w.drain(ctx, limit)
	if err != nil {
		return err
	}
	e.logf("%s: load %s", name, l.summary())
	e.logf("%s: replies %s", name, l.st.String())
	e.logf("%s: after %s of draining: %s", name, took.Round(100*time.Millisecond), v.String())
	var ds []paysim.Delivery
	if err := e.w.getJSON(ctx, "/sim/pay/deliveries", &ds); err == nil {
		acked, retried, gaveUp := 0, 0, 0
		for _, d := range ds {
			if d.Acked {
				acked++
			}
			if d.Sent > 2 { // one duplicate is sent on purpose
				retried++
			}
			if d.GaveUp {
				gaveUp++
			}
		}
		e.logf("%s: WeChat Pay notifications so far: %d events, %d acked, %d re-sent on the retry schedule, %d given up",
			name, len(ds), acked, retried, gaveUp)
	}
	switch {
	case v.Settled:
	case v.Recorded:
		e.logf("%s: %d batches wait for a retry or an expired lease, inside their 72-hour window", name, v.PendingInWindow)
	default:
		e.logf("%s: not settled after %s (checked anyway)", name, limit)
	}
	for _, m := range l.violations {
		e.fail(name, "%s", m)
	}
	for _, m := range v.Violations {
		e.fail(name, "%s", m)
	}
	if l.paid.Load() == 0 {
		e.fail(name, "no customer got as far as paying: the load did not exercise the money path")
	}
	return nil
}
