package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds of the scenarios.
const (
	drainLimit       = 20 * time.Second // wait for notifications and workers to catch up
	recoveryLimit    = 15 * time.Second // a request must succeed again within this after a fault ends
	minKillInterval  = 2 * time.Second
	maxKillInterval  = 6 * time.Second
	platformFailRate = 0.3
	longOutage       = 3 * time.Second // the second kill of scenario 1 stays down this long
)

// underFaults are the simulator faults of a loaded scenario: the platform
// fails platformFailRate of calls.
var underFaults = map[string]any{"error_rate": platformFailRate}

// loadUnder sets the platform faults and starts the mixed load against
// servers for d; wait ends it.
func (e *env) loadUnder(ctx context.Context, d time.Duration, faults map[string]any, servers ...*serverProc) (l *load, wait func(), err error) {
	if err := e.simPost(ctx, "/sim/platform/faults", faults); err != nil {
		return nil, nil, err
	}
	l = e.newLoad(servers...)
	return l, e.startLoad(ctx, l, d), nil
}

// serveAndLoad starts one server per port (A, B, …) on the shared Redis,
// then loads them as loadUnder does. The runner stops the servers when the
// scenario returns.
func (e *env) serveAndLoad(ctx context.Context, d time.Duration, faults map[string]any, ports ...int) (srvs []*serverProc, l *load, wait func(), err error) {
	for i, port := range ports {
		srv, err := e.startServer(ctx, string(rune('A'+i)), port, e.o.Redis, chaosRedisDB)
		if err != nil {
			return nil, nil, nil, err
		}
		srvs = append(srvs, srv)
	}
	l, wait, err = e.loadUnder(ctx, d, faults, srvs...)
	return srvs, l, wait, err
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// expectRecovery fails the scenario unless a fresh login and GET /me
// succeed on srv within recoveryLimit; after names the fault's end.
func (e *env) expectRecovery(ctx context.Context, name string, srv *serverProc, probe, after string) {
	took, ok := waitRecovered(ctx, e.pool.clients[0], srv.URL(), "chaos-probe-"+probe+"-"+e.runID, recoveryLimit)
	if !ok {
		e.fail(name, "requests still failing %s after %s", recoveryLimit, after)
		return
	}
	e.logf("%s: recovered (fresh login + GET /me succeed) %s after %s", name, took.Round(time.Millisecond), after)
}

// scenarioKill: mixed load while the server is killed with SIGKILL at
// seeded random moments and restarted each time.
func (e *env) scenarioKill(ctx context.Context, name string, d time.Duration, portA, _ int) error {
	srvs, l, wait, err := e.serveAndLoad(ctx, d, underFaults, portA)
	if err != nil {
		return err
	}
	srv := srvs[0]
	end := time.Now().Add(d)
	var downs []time.Duration
	for i := 0; i < 60; i++ {
		gap := minKillInterval + time.Duration(e.rng.Int64N(int64(maxKillInterval-minKillInterval)))
		if time.Now().Add(gap + time.Second).After(end) {
			break
		}
		if !sleepCtx(ctx, gap) {
			break
		}
		t0 := time.Now()
		srv.kill()
		if i == 1 {
			// One long outage: customers holding pay params keep paying at
			// the simulator, whose notifications fail until the server is
			// back and are then re-sent on WeChat's (scaled) schedule.
			sleepCtx(ctx, longOutage)
		}
		if err := srv.start(ctx); err != nil {
			wait()
			return fmt.Errorf("restart after kill -9: %w", err)
		}
		downs = append(downs, time.Since(t0))
	}
	wait()
	e.logf("%s: %d kill -9, downtime per restart %s", name, srv.Kills, fmtDurations(downs))
	if srv.Kills == 0 && d >= 2*maxKillInterval {
		e.fail(name, "no kill happened")
	}
	return e.verify(ctx, name, l, drainLimit)
}

// scenarioRedis: a throw-away redis-server is flushed mid-load, then shut
// down (nosave) and started again; requests must succeed again within
// seconds and nothing may be processed twice.
func (e *env) scenarioRedis(ctx context.Context, name string, d time.Duration, portA, _ int) error {
	port := e.o.RedisPort
	if port == 6379 {
		return fmt.Errorf("-redis-port must not be 6379")
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 300*time.Millisecond); err == nil {
		// Something already listens there: never touch it, take a free port.
		c.Close()
		if port, err = freePort(); err != nil {
			return err
		}
		e.logf("%s: port %d is taken, using %d for the throw-away redis-server", name, e.o.RedisPort, port)
	}
	logPath := e.tmp + "/redis.log"
	rp, err := startRedis(port, logPath)
	if err != nil {
		return err
	}
	defer func() { rp.kill() }()
	srv, err := e.startServer(ctx, "A", portA, rp.addr(), 0)
	if err != nil {
		return err
	}
	defer srv.stop() // before the redis-server goes
	l, wait, err := e.loadUnder(ctx, d, underFaults, srv)
	if err != nil {
		return err
	}
	defer wait()

	sleepCtx(ctx, d*25/100)
	rdb := redis.NewClient(&redis.Options{Addr: rp.addr()})
	err = rdb.FlushDB(ctx).Err()
	rdb.Close()
	if err != nil {
		return fmt.Errorf("FLUSHDB: %w", err)
	}
	e.logf("%s: FLUSHDB (sessions, idempotency records, dedupe keys, locks gone)", name)
	sleepCtx(ctx, d*20/100)
	if err := rp.shutdown(); err != nil {
		return err
	}
	e.logf("%s: redis-server shut down (nosave)", name)
	downFor := max(2*time.Second, d*10/100)
	sleepCtx(ctx, downFor)
	if rp, err = startRedis(port, logPath); err != nil {
		return fmt.Errorf("restart redis-server: %w", err)
	}
	e.logf("%s: redis-server back after %s", name, downFor)
	e.expectRecovery(ctx, name, srv, "redis", "Redis came back")
	wait()
	return e.verify(ctx, name, l, drainLimit)
}

// scenarioMySQL: every MySQL connection of the chaos database is killed a
// few times mid-load. Requests must fail cleanly (503 with the error
// envelope) or succeed after the driver reconnects: never a 500, a reply
// without the envelope, or a hang.
func (e *env) scenarioMySQL(ctx context.Context, name string, d time.Duration, portA, _ int) error {
	srvs, l, wait, err := e.serveAndLoad(ctx, d, underFaults, portA)
	if err != nil {
		return err
	}
	srv := srvs[0]
	rounds, killed := 0, 0
	for i := 0; i < 8; i++ {
		if !sleepCtx(ctx, max(time.Second, d/5)) {
			break
		}
		n, err := e.killConnections(ctx)
		if err != nil {
			wait()
			return err
		}
		rounds++
		killed += n
		if rounds >= 3 {
			break
		}
	}
	e.logf("%s: %d rounds, %d MySQL connections killed", name, rounds, killed)
	e.expectRecovery(ctx, name, srv, "mysql", "the last kill")
	wait()
	snap := l.st.snapshot()
	for class, n := range snap {
		switch {
		case class == "hang":
			e.fail(name, "%d requests hung (no answer within %s)", n, requestTimeout)
		case strings.HasSuffix(class, "(replayed)"):
			e.logf("%s: note: %d replies were a saved 5xx replayed for the same Idempotency-Key (%s)", name, n, class)
		case strings.HasPrefix(class, "500"):
			e.fail(name, "%d requests answered %s (want 503 with the envelope or success); first body: %s", n, class, l.st.samples[class])
		case strings.Contains(class, "without envelope"):
			e.fail(name, "%d requests answered %s; first body: %s", n, class, l.st.samples[class])
		case strings.HasPrefix(class, "refused"), strings.HasPrefix(class, "reset"):
			e.fail(name, "%d requests lost their connection (%s) although the server never died", n, class)
		}
	}
	if !srv.alive() {
		e.fail(name, "the server process died")
	}
	return e.verify(ctx, name, l, drainLimit)
}

// killConnections kills every connection whose default database is the
// chaos database (the servers' pools; ours has none).
func (e *env) killConnections(ctx context.Context) (int, error) {
	rows, err := e.admin.QueryContext(ctx, "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()", e.dbName)
	if err != nil {
		return 0, fmt.Errorf("processlist: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	n := 0
	for _, id := range ids {
		if _, err := e.admin.ExecContext(ctx, fmt.Sprintf("KILL %d", id)); err == nil {
			n++
		}
	}
	return n, nil
}

// scenarioTwo: two server processes on two ports share MySQL and Redis,
// both running workers, load spread across both; one is killed once midway
// and restarted.
func (e *env) scenarioTwo(ctx context.Context, name string, d time.Duration, portA, portB int) error {
	srvs, l, wait, err := e.serveAndLoad(ctx, d, underFaults, portA, portB)
	if err != nil {
		return err
	}
	b := srvs[1]
	if sleepCtx(ctx, d/2) {
		b.kill()
		if err := b.start(ctx); err != nil {
			wait()
			return fmt.Errorf("restart B: %w", err)
		}
		e.logf("%s: B killed with SIGKILL and restarted midway", name)
	}
	wait()
	return e.verify(ctx, name, l, drainLimit)
}

func fmtDurations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(10 * time.Millisecond).String()
	}
	return strings.Join(parts, " ")
}
